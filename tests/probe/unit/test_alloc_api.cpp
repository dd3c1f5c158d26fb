// The semantics of every allocation function, driven through alloc_api with a fake "real"
// allocator so that failures (a realloc that fails, a calloc that must not be reached) can
// be forced without LD_PRELOAD.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "alloc_api.h"
#include "tracker.h"

using leakprobe::Bucket;
using leakprobe::Options;
using leakprobe::RealAlloc;
using leakprobe::Tracker;
namespace api = leakprobe::api;

namespace {

int g_calloc_calls = 0;
bool g_fail_realloc = false;
int g_errno_on_success = 0;  // what the fake sets on success, to check errno is passed through

void* fake_malloc(size_t n) {
  void* p = ::malloc(n);
  if (g_errno_on_success) errno = g_errno_on_success;
  return p;
}
void fake_free(void* p) { ::free(p); }
void* fake_calloc(size_t n, size_t s) {
  ++g_calloc_calls;
  return ::calloc(n, s);
}
void* fake_realloc(void* p, size_t n) {
  if (g_fail_realloc) {
    errno = ENOMEM;
    return nullptr;
  }
  return ::realloc(p, n);
}
int fake_posix_memalign(void** out, size_t a, size_t n) { return ::posix_memalign(out, a, n); }
void* fake_aligned_alloc(size_t a, size_t n) { return ::aligned_alloc(a, n); }
void* fake_memalign(size_t a, size_t n) { return ::memalign(a, n); }
void* fake_valloc(size_t n) { return ::valloc(n); }
void* fake_pvalloc(size_t n) { return ::pvalloc(n); }
size_t fake_usable(void* p) { return ::malloc_usable_size(p); }

const RealAlloc kFake{fake_malloc,         fake_free,          fake_calloc,   fake_realloc,
                      fake_posix_memalign, fake_aligned_alloc, fake_memalign, fake_valloc,
                      fake_pvalloc,        fake_usable};

struct Totals {
  int64_t live_objs = 0, live_bytes = 0;
  uint64_t alloc_objs = 0, alloc_bytes = 0;
};

Totals totals(const Tracker& t) {
  Totals s;
  for (const Bucket* b = t.stacks().first(); b; b = b->next) {
    s.live_objs += b->live_objs();
    s.live_bytes += b->live_bytes();
    s.alloc_objs += b->alloc_objs.load();
    s.alloc_bytes += b->alloc_bytes.load();
  }
  return s;
}

class AllocApi : public ::testing::Test {
 protected:
  void SetUp() override {
    g_calloc_calls = 0;
    g_fail_realloc = false;
    g_errno_on_success = 0;
    Options o;
    t_ = std::make_unique<Tracker>();
    ASSERT_TRUE(t_->init(o));
  }
  Tracker* t() { return t_.get(); }
  std::unique_ptr<Tracker> t_;
};

}  // namespace

TEST_F(AllocApi, MallocAndFreeRecordRequestedSize) {
  void* p = api::malloc(kFake, t(), 40004);
  ASSERT_NE(p, nullptr);
  Totals s = totals(*t());
  EXPECT_EQ(s.live_objs, 1);
  EXPECT_EQ(s.live_bytes, 40004);
  api::free(kFake, t(), p);
  s = totals(*t());
  EXPECT_EQ(s.live_objs, 0);
  EXPECT_EQ(s.live_bytes, 0);
  EXPECT_EQ(s.alloc_objs, 1u);
  EXPECT_EQ(s.alloc_bytes, 40004u);
  api::free(kFake, t(), nullptr);  // free(NULL) is fine and records nothing
  EXPECT_EQ(totals(*t()).alloc_objs, 1u);
}

TEST_F(AllocApi, CallocOverflowIsEnomemWithoutCallingTheRealCalloc) {
  errno = 0;
  EXPECT_EQ(api::calloc(kFake, t(), SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(g_calloc_calls, 0);
  void* p = api::calloc(kFake, t(), 10007, 3);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(g_calloc_calls, 1);
  EXPECT_EQ(totals(*t()).live_bytes, 30021);
  api::free(kFake, t(), p);
}

TEST_F(AllocApi, ReallocNullIsMalloc) {
  void* p = api::realloc(kFake, t(), nullptr, 10009);
  ASSERT_NE(p, nullptr);
  Totals s = totals(*t());
  EXPECT_EQ(s.live_objs, 1);
  EXPECT_EQ(s.live_bytes, 10009);
  api::free(kFake, t(), p);
}

TEST_F(AllocApi, ReallocMovesTheRecordToTheNewBlock) {
  void* p = api::malloc(kFake, t(), 10011);
  void* q = api::realloc(kFake, t(), p, 20011);
  ASSERT_NE(q, nullptr);
  Totals s = totals(*t());
  EXPECT_EQ(s.live_objs, 1);
  EXPECT_EQ(s.live_bytes, 20011);
  EXPECT_EQ(s.alloc_objs, 2u);
  EXPECT_EQ(s.alloc_bytes, 10011u + 20011u);
  EXPECT_EQ(t()->live_pointers(), 1u);
  api::free(kFake, t(), q);
  EXPECT_EQ(totals(*t()).live_objs, 0);
  EXPECT_EQ(t()->live_pointers(), 0u);
}

TEST_F(AllocApi, ReallocToZeroFreesOnGlibc) {
  void* p = api::malloc(kFake, t(), 10013);
  EXPECT_EQ(api::realloc(kFake, t(), p, 0), nullptr);
  Totals s = totals(*t());
  EXPECT_EQ(s.live_objs, 0);
  EXPECT_EQ(s.alloc_objs, 1u);
  EXPECT_EQ(t()->live_pointers(), 0u);
}

TEST_F(AllocApi, FailedReallocKeepsTheOldBlockRecorded) {
  void* p = api::malloc(kFake, t(), 10017);
  g_fail_realloc = true;
  errno = 0;
  EXPECT_EQ(api::realloc(kFake, t(), p, 99999), nullptr);
  EXPECT_EQ(errno, ENOMEM) << "errno exactly as the real realloc set it";
  g_fail_realloc = false;
  Totals s = totals(*t());
  EXPECT_EQ(s.live_objs, 1);
  EXPECT_EQ(s.live_bytes, 10017);
  EXPECT_EQ(s.alloc_objs, 1u) << "a failed realloc is neither a free nor an allocation";
  api::free(kFake, t(), p);
  EXPECT_EQ(totals(*t()).live_objs, 0);
}

TEST_F(AllocApi, ReallocarrayOverflowIsEnomem) {
  void* p = api::malloc(kFake, t(), 16);
  errno = 0;
  EXPECT_EQ(api::reallocarray(kFake, t(), p, SIZE_MAX / 2, 4), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(totals(*t()).live_objs, 1) << "the old block is untouched";
  void* q = api::reallocarray(kFake, t(), p, 10019, 3);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(totals(*t()).live_bytes, 30057);
  api::free(kFake, t(), q);
}

TEST_F(AllocApi, AlignedFunctionsRecordRequestedSizesAndKeepAlignment) {
  void* a = nullptr;
  ASSERT_EQ(api::posix_memalign(kFake, t(), &a, 64, 40009), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  void* bad = reinterpret_cast<void*>(1);
  EXPECT_EQ(api::posix_memalign(kFake, t(), &bad, 3, 10), EINVAL);
  void* b = api::aligned_alloc(kFake, t(), 128, 40064);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 128, 0u);
  void* c = api::memalign(kFake, t(), 256, 40021);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c) % 256, 0u);
  void* d = api::valloc(kFake, t(), 40031);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(d) % 4096, 0u);
  void* e = api::pvalloc(kFake, t(), 40037);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(e) % 4096, 0u);
  Totals s = totals(*t());
  EXPECT_EQ(s.live_objs, 5);
  EXPECT_EQ(s.live_bytes, 40009 + 40064 + 40021 + 40031 + 40037);
  EXPECT_GE(api::malloc_usable_size(kFake, a), 40009u);
  for (void* p : {a, b, c, d, e}) api::free(kFake, t(), p);
  EXPECT_EQ(totals(*t()).live_objs, 0);
}

TEST_F(AllocApi, ErrnoIsPreservedAcrossRecording) {
  g_errno_on_success = EDOM;  // the "real" malloc leaves EDOM behind
  errno = 0;
  void* p = api::malloc(kFake, t(), 100);
  EXPECT_EQ(errno, EDOM);
  errno = ERANGE;
  api::free(kFake, t(), p);
  EXPECT_EQ(errno, ERANGE);
}

TEST_F(AllocApi, UntrackedBlocksAreFreedWithoutComplaint) {
  void* p = ::malloc(64);  // "allocated before the probe was enabled"
  api::free(kFake, t(), p);
  void* q = ::malloc(64);
  void* r = api::realloc(kFake, t(), q, 128);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(totals(*t()).live_bytes, 128) << "the new block of an untracked realloc is tracked";
  api::free(kFake, t(), r);
}

TEST_F(AllocApi, NullTrackerOnlyForwards) {
  void* p = api::malloc(kFake, nullptr, 10);
  void* q = api::realloc(kFake, nullptr, p, 20);
  api::free(kFake, nullptr, q);
  EXPECT_EQ(totals(*t()).alloc_objs, 0u);
}

TEST_F(AllocApi, PoolBlocksAreNeverHandedToTheRealFree) {
  void* p = leakprobe::pool_alloc(24);
  ASSERT_TRUE(leakprobe::is_pool_ptr(p));
  memset(p, 7, 24);
  api::free(kFake, t(), p);  // must be ignored (a real free would crash)
  EXPECT_EQ(api::malloc_usable_size(kFake, p), 24u);
  void* q = api::realloc(kFake, t(), p, 100);
  ASSERT_FALSE(leakprobe::is_pool_ptr(q));
  EXPECT_EQ(static_cast<unsigned char*>(q)[23], 7);
  api::free(kFake, t(), q);
}
