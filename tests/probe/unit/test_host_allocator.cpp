// The functions an allocator lacks are built over its own (host_allocator.h): a jemalloc
// without pvalloc, an allocator with posix_memalign but no memalign. Each emulation must keep
// the contract of the function it stands for and call only the object's own functions.
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "got_patch.h"
#include "host_allocator.h"

using leakprobe::RealAlloc;

namespace {

int g_own_calls = 0;  // calls into the "object's own" functions below
void* own_malloc(size_t n) { return ++g_own_calls, ::malloc(n); }
void own_free(void* p) { ++g_own_calls, ::free(p); }
void* own_realloc(void* p, size_t n) { return ++g_own_calls, ::realloc(p, n); }
void* own_memalign(size_t a, size_t n) { return ++g_own_calls, ::memalign(a, n); }
int own_posix_memalign(void** out, size_t a, size_t n) {
  return ++g_own_calls, ::posix_memalign(out, a, n);
}

bool aligned_to(const void* p, size_t a) { return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0; }

// Every emulated aligned function over `r`: alignment, size, zeroing and error contracts.
void check_emulations(const RealAlloc& r) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  g_own_calls = 0;
  auto* c = static_cast<unsigned char*>(r.calloc(100, 3));
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 300; ++i) ASSERT_EQ(c[i], 0);
  own_free(c);
  EXPECT_GT(g_own_calls, 1) << "calloc must go through the object's malloc";
  errno = 0;
  EXPECT_EQ(r.calloc(SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);

  void* p = nullptr;
  ASSERT_EQ(r.posix_memalign(&p, 64, 1000), 0);
  EXPECT_TRUE(aligned_to(p, 64));
  own_free(p);
  p = reinterpret_cast<void*>(1);
  EXPECT_EQ(r.posix_memalign(&p, 24, 10), EINVAL);  // not a power of two
  EXPECT_EQ(r.posix_memalign(&p, 4, 10), EINVAL);   // not a multiple of sizeof(void*)
  EXPECT_EQ(p, reinterpret_cast<void*>(1)) << "a failed posix_memalign leaves *out alone";

  void* a = r.aligned_alloc(128, 100);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(aligned_to(a, 128));
  own_free(a);
  errno = 0;
  EXPECT_EQ(r.aligned_alloc(48, 100), nullptr);
  EXPECT_EQ(errno, EINVAL);

  void* m = r.memalign(48, 100);  // memalign rounds an odd alignment up: 64
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(aligned_to(m, 64));
  own_free(m);

  void* v = r.valloc(10);
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(aligned_to(v, page));
  own_free(v);

  auto* pv = static_cast<char*>(r.pvalloc(page + 1));  // rounded up to two pages
  ASSERT_NE(pv, nullptr);
  EXPECT_TRUE(aligned_to(pv, page));
  memset(pv, 1, 2 * page);
  own_free(pv);
  void* pv0 = r.pvalloc(0);  // one page
  ASSERT_NE(pv0, nullptr);
  own_free(pv0);
  errno = 0;
  EXPECT_EQ(r.pvalloc(SIZE_MAX - 10), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(HostAllocator, GapsAreFilledOverTheObjectsMemalign) {
  RealAlloc r{};
  r.malloc = own_malloc;
  r.free = own_free;
  r.realloc = own_realloc;
  r.memalign = own_memalign;
  leakprobe::fill_allocator_gaps(&r);
  EXPECT_EQ(r.memalign, own_memalign) << "an own function is kept";
  check_emulations(r);
  void* b = own_malloc(10);
  EXPECT_EQ(r.malloc_usable_size(b), 0u) << "without the object's own answer: no spare bytes";
  own_free(b);
}

TEST(HostAllocator, GapsAreFilledOverTheObjectsPosixMemalign) {
  RealAlloc r{};
  r.malloc = own_malloc;
  r.free = own_free;
  r.realloc = own_realloc;
  r.posix_memalign = own_posix_memalign;
  leakprobe::fill_allocator_gaps(&r);
  check_emulations(r);
}

TEST(HostAllocator, WithoutAnyAlignedPrimitiveAlignedRequestsFailCleanly) {
  RealAlloc r{};
  r.malloc = own_malloc;
  r.free = own_free;
  r.realloc = own_realloc;
  leakprobe::fill_allocator_gaps(&r);
  errno = 0;
  EXPECT_EQ(r.memalign(64, 10), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void* p = nullptr;
  EXPECT_EQ(r.posix_memalign(&p, 64, 10), ENOMEM);
  EXPECT_EQ(r.valloc(10), nullptr);
}

}  // namespace

// Attach mode's dlopen (got_patch.h): the probe may call dlopen for the host only where the
// caller's object cannot change which file is loaded.
TEST(DlopenCaller, IndependentOnlyWhereTheCallerCannotMatter) {
  const void* caller = reinterpret_cast<const void*>(&leakprobe::got::dlopen_caller_independent);
  EXPECT_TRUE(leakprobe::got::dlopen_caller_independent(nullptr, caller));
  EXPECT_TRUE(leakprobe::got::dlopen_caller_independent("/usr/lib/x/libx.so", caller));
  EXPECT_FALSE(leakprobe::got::dlopen_caller_independent("$ORIGIN/libx.so", caller));
  EXPECT_FALSE(leakprobe::got::dlopen_caller_independent("/a/$LIB/libx.so", caller));
}
