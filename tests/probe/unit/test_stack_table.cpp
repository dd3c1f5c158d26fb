#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "stack_table.h"

using leakprobe::Arena;
using leakprobe::Bucket;
using leakprobe::StackTable;

TEST(StackTable, SameFramesGiveTheSameBucket) {
  Arena arena;
  StackTable t;
  ASSERT_TRUE(t.init(1024, &arena));
  uintptr_t a[] = {0x1000, 0x2000, 0x3000};
  uintptr_t b[] = {0x1000, 0x2000, 0x3001};
  Bucket* x = t.intern(a, 3, false);
  Bucket* y = t.intern(a, 3, false);
  Bucket* z = t.intern(b, 3, false);
  Bucket* prefix = t.intern(a, 2, false);
  Bucket* cut = t.intern(a, 3, true);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
  EXPECT_NE(x, prefix);
  EXPECT_NE(x, cut) << "a truncated stack is a different stack";
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(x->depth, 3u);
  EXPECT_EQ(x->frames[2], 0x3000u);
}

TEST(StackTable, AHintGivesItsBucketOnlyForExactlyTheSameStack) {
  // capture_stack's hint (the bucket the last walk from the same first frame gave) is a guess:
  // taken only when the bucket holds these very frames, never for the frameless overflow one.
  Arena arena;
  StackTable t;
  ASSERT_TRUE(t.init(16, &arena));
  uintptr_t a[] = {0x1000, 0x2000, 0x3000};
  uintptr_t b[] = {0x1000, 0x2000, 0x3001};
  Bucket* x = t.intern(a, 3, false);
  ASSERT_NE(x, nullptr);
  const uint32_t hint = x->index + 1;
  EXPECT_EQ(t.hinted(hint, a, 3, false), x);
  EXPECT_EQ(t.hinted(hint, b, 3, false), nullptr) << "another frame";
  EXPECT_EQ(t.hinted(hint, a, 2, false), nullptr) << "a prefix";
  EXPECT_EQ(t.hinted(hint, a, 3, true), nullptr) << "truncated";
  EXPECT_EQ(t.hinted(0, a, 3, false), nullptr) << "no hint";
  EXPECT_EQ(t.hinted(hint + 1, a, 3, false), nullptr) << "an index with no bucket yet";
  EXPECT_EQ(t.hinted(1000, a, 3, false), nullptr) << "out of range";
  Bucket* overflow = t.overflow();
  ASSERT_NE(overflow, nullptr);
  EXPECT_EQ(t.hinted(overflow->index + 1, a, 0, false), nullptr) << "the overflow bucket";
}

TEST(StackTable, CountersAndListWalk) {
  Arena arena;
  StackTable t;
  ASSERT_TRUE(t.init(1024, &arena));
  uintptr_t f[] = {0x10};
  Bucket* b = t.intern(f, 1, false);
  b->on_alloc(100);
  b->on_alloc(50);
  b->on_free(100);
  EXPECT_EQ(b->live_objs(), 1);
  EXPECT_EQ(b->live_bytes(), 50);
  EXPECT_EQ(b->alloc_objs.load(), 2u);
  EXPECT_EQ(b->alloc_bytes.load(), 150u);
  size_t n = 0;
  for (const Bucket* p = t.first(); p; p = p->next) ++n;
  EXPECT_EQ(n, 1u);
}

TEST(StackTable, FullTableReturnsNullAndKeepsTheLastIndexForTheOverflowBucket) {
  Arena arena;
  StackTable t;
  ASSERT_TRUE(t.init(1024, &arena));
  for (uintptr_t i = 0; i < 1023; ++i) ASSERT_NE(t.intern(&i, 1, false), nullptr) << i;
  uintptr_t one_more = 5000;
  EXPECT_EQ(t.intern(&one_more, 1, false), nullptr);
  uintptr_t old = 7;
  EXPECT_NE(t.intern(&old, 1, false), nullptr) << "known stacks are still found when full";

  Bucket* o = t.overflow();
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o, t.overflow()) << "one overflow bucket";
  EXPECT_EQ(o->index, 1023u);
  EXPECT_EQ(t.at(1023), o);
  EXPECT_EQ(o->depth, 0u);
  EXPECT_EQ(t.first(), o) << "listed for the writer";
  EXPECT_EQ(t.intern(nullptr, 0, false), nullptr) << "never found as an empty stack";
}

TEST(StackTable, ConcurrentInsertsDeduplicate) {
  Arena arena;
  StackTable t;
  ASSERT_TRUE(t.init(1 << 16, &arena));
  constexpr int kThreads = 8, kStacks = 2000;
  std::vector<std::vector<Bucket*>> seen(kThreads, std::vector<Bucket*>(kStacks));
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < kStacks; ++i) {
        uintptr_t frames[2] = {static_cast<uintptr_t>(i) * 16 + 1, 42};
        seen[th][i] = t.intern(frames, 2, false);
        seen[th][i]->on_alloc(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(t.size(), static_cast<size_t>(kStacks));
  for (int i = 0; i < kStacks; ++i) {
    for (int th = 1; th < kThreads; ++th) ASSERT_EQ(seen[th][i], seen[0][i]);
    EXPECT_EQ(seen[0][i]->alloc_objs.load(), static_cast<uint64_t>(kThreads));
  }
  std::set<const Bucket*> listed;
  for (const Bucket* p = t.first(); p; p = p->next) listed.insert(p);
  EXPECT_EQ(listed.size(), static_cast<size_t>(kStacks));
}

// Stacks made of the same few functions in different orders and combinations, as in a broker
// (and in the 1M/100k snapshot benchmark): 5 levels x 10 call sites = 100k stacks whose frame
// sums repeat heavily. A hash that only sees the sum of the frames collapsed these to 171
// values; every stack should get its own hash.
TEST(StackTable, CombinationsOfTheSameFunctionsHashApart) {
  std::set<uint64_t> hashes;
  uintptr_t frames[6];
  frames[5] = 0x7f0000401234;  // a common outer frame (main)
  for (int n = 0; n < 100000; ++n) {
    int rest = n;
    for (int level = 0; level < 5; ++level) {
      frames[level] = 0x555555554000 + 0x40 * (rest % 10) + 0x11;
      rest /= 10;
    }
    hashes.insert(StackTable::hash_frames(frames, 6, false));
  }
  EXPECT_EQ(hashes.size(), 100000u);

  uintptr_t ab[] = {0x1000, 0x2000};
  uintptr_t ba[] = {0x2000, 0x1000};
  EXPECT_NE(StackTable::hash_frames(ab, 2, false), StackTable::hash_frames(ba, 2, false))
      << "a permutation of the same frames is another stack";
}
