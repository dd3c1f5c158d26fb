// The tracker's own limits: when its stack table is full it says so once on stderr, keeps
// counting new blocks (without their stacks) and keeps taking out frees, so live figures
// never freeze; snapshots are told (incomplete_since).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "tracker.h"

using leakprobe::Bucket;
using leakprobe::Options;
using leakprobe::Tracker;

TEST(Tracker, FullStackTableKeepsCountingAndFreeingWithOneLine) {
  Options o;
  o.max_stacks = 1024;
  auto t = std::make_unique<Tracker>();
  ASSERT_TRUE(t->init(o));
  EXPECT_EQ(t->incomplete_since(Tracker::Gap::kStackTableFull), 0);
  testing::internal::CaptureStderr();
  for (uintptr_t i = 1; i <= 1100; ++i) {
    uintptr_t frame = i * 16;
    t->record_alloc(reinterpret_cast<void*>(i * 64), 10, &frame, 1, false);
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(t->active());
  EXPECT_EQ(t->stacks().size(), 1023u) << "the last index is the overflow bucket's";
  EXPECT_EQ(t->live_pointers(), 1100u) << "every block is recorded";
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("leakprobe: the stack table is full"), std::string::npos) << err;
  EXPECT_GT(t->incomplete_since(Tracker::Gap::kStackTableFull), 1700000000);
  const Bucket* over = t->stacks().first();
  ASSERT_EQ(over->depth, 0u);
  EXPECT_EQ(over->live_objs(), 1100 - 1023);
  EXPECT_EQ(over->live_bytes(), (1100 - 1023) * 10);

  // The program frees everything: every line ends at zero (it stayed at 349 MiB "live").
  for (uintptr_t i = 1; i <= 1100; ++i)
    ASSERT_TRUE(t->record_free(reinterpret_cast<void*>(i * 64))) << i;
  EXPECT_EQ(t->live_pointers(), 0u);
  for (const Bucket* b = t->stacks().first(); b; b = b->next) ASSERT_EQ(b->live_bytes(), 0);
}

TEST(Tracker, CapturesARealStackInProcess) {
  Options o;
  o.depth = 8;
  auto t = std::make_unique<Tracker>();
  ASSERT_TRUE(t->init(o));
  int dummy;
  t->on_alloc(&dummy, 4);
  ASSERT_EQ(t->stacks().size(), 1u);
  const Bucket* b = t->stacks().first();
  EXPECT_GE(b->depth, 2u);
  EXPECT_LE(b->depth, 8u);
  EXPECT_EQ(b->live_bytes(), 4);
  EXPECT_TRUE(t->record_free(&dummy));
}

TEST(Tracker, SizesBeyondThePackedRangeAreNotRecordedAndSaidOnce) {
  Options o;
  auto t = std::make_unique<Tracker>();
  ASSERT_TRUE(t->init(o));
  const uintptr_t f = 0x1234;
  testing::internal::CaptureStderr();
  t->record_alloc(reinterpret_cast<void*>(0x1000), uint64_t{1} << 38, &f, 1, false);
  t->record_alloc(reinterpret_cast<void*>(0x2000), uint64_t{1} << 39, &f, 1, false);
  t->record_alloc(reinterpret_cast<void*>(0x3000), (uint64_t{1} << 38) - 1, &f, 1, false);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(t->live_pointers(), 1u);
  EXPECT_TRUE(t->active()) << "only those blocks are skipped";
  ASSERT_TRUE(t->record_free(reinterpret_cast<void*>(0x3000)));
  EXPECT_EQ(t->stacks().first()->alloc_bytes.load(), (uint64_t{1} << 38) - 1);
  EXPECT_EQ(t->stacks().first()->live_bytes(), 0);
}

// Attach mode: frees (and successful reallocs) of blocks the map does not hold are counted
// once note_attached asked for it, never attributed to a stack; a new attach forgets what an
// earlier one recorded.
TEST(Tracker, AttachCountsUnrecordedFreesAndForgetsOnReattach) {
  Options o;
  auto t = std::make_unique<Tracker>();
  ASSERT_TRUE(t->init(o));
  uintptr_t frame = 0x1234;
  t->record_alloc(reinterpret_cast<void*>(0x1000), 10, &frame, 1, false);
  EXPECT_FALSE(t->record_free(reinterpret_cast<void*>(0x2000)));
  EXPECT_EQ(t->unrecorded_frees().frees, 0u) << "not counted before note_attached";
  t->note_attached(0, true);
  EXPECT_GT(t->attached_since_us(), 1700000000LL * 1000000);
  EXPECT_FALSE(t->record_free(reinterpret_cast<void*>(0x2000)));
  EXPECT_TRUE(t->record_free(reinterpret_cast<void*>(0x1000)));  // ours: not counted
  // realloc of an unknown block: counted once the real realloc succeeded, not when it failed.
  Tracker::ReallocTicket ticket = t->realloc_begin(reinterpret_cast<void*>(0x3000));
  EXPECT_FALSE(ticket.tracked);
  t->realloc_end(ticket, reinterpret_cast<void*>(0x3000), nullptr, 64);  // failed
  ticket = t->realloc_begin(reinterpret_cast<void*>(0x3000));
  t->realloc_end(ticket, reinterpret_cast<void*>(0x3000), reinterpret_cast<void*>(0x4000), 64);
  EXPECT_EQ(t->unrecorded_frees().frees, 2u);
  EXPECT_EQ(t->live_pointers(), 1u) << "the realloc's result is a block of ours";

  t->forget_all_blocks();
  EXPECT_EQ(t->live_pointers(), 0u);
  for (const Bucket* b = t->stacks().first(); b; b = b->next) {
    EXPECT_EQ(b->live_objs(), 0);
    EXPECT_EQ(b->alloc_objs.load(), 0u);
  }
  t->note_attached(0, false);  // sampled mode: nothing counted
  EXPECT_EQ(t->unrecorded_frees().frees, 0u);
  EXPECT_FALSE(t->counts_unrecorded());
}
