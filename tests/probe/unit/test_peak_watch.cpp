// LEAKPROBE_PEAK's bookkeeping without a process: when a peak snapshot is due, which one is
// the newest, what it replaces, and the live total it is decided on.
#include <gtest/gtest.h>

#include <string>

#include "peak_watch.h"
#include "stack_table.h"

using leakprobe::Arena;
using leakprobe::PeakWatch;
using leakprobe::StackTable;

namespace {
constexpr uint64_t kMiB = uint64_t{1} << 20;
}

TEST(PeakWatch, OffUntilInitialised) {
  PeakWatch w;
  EXPECT_FALSE(w.on());
  EXPECT_FALSE(w.due(100 * kMiB));
}

TEST(PeakWatch, FirstPeakAboveTheFloorThenEachGrowthStep) {
  PeakWatch w;
  w.init(10);
  EXPECT_FALSE(w.due(PeakWatch::kFloorBytes - 1)) << "start-up noise below the floor";
  ASSERT_TRUE(w.due(PeakWatch::kFloorBytes));
  char previous[4096];
  w.published("/d/leakprobe.1.0001.heap", 10 * kMiB, previous, sizeof(previous));
  EXPECT_STREQ(previous, "");
  EXPECT_STREQ(w.newest(), "/d/leakprobe.1.0001.heap");
  EXPECT_FALSE(w.due(10 * kMiB)) << "the same peak again";
  EXPECT_FALSE(w.due(11 * kMiB)) << "exactly +10% is not past it";
  EXPECT_TRUE(w.due(11 * kMiB + 1));
  EXPECT_FALSE(w.due(5 * kMiB)) << "a falling heap never makes a peak";
  w.published("/d/leakprobe.1.0002.heap", 12 * kMiB, previous, sizeof(previous));
  EXPECT_STREQ(previous, "/d/leakprobe.1.0001.heap") << "the older peak is handed back for removal";
  EXPECT_STREQ(w.newest(), "/d/leakprobe.1.0002.heap");
  EXPECT_EQ(w.newest_bytes(), 12 * kMiB);
}

TEST(PeakWatch, GrowthSetting) {
  PeakWatch w;
  w.init(100);
  char previous[64];
  w.published("a", 10 * kMiB, previous, sizeof(previous));
  EXPECT_FALSE(w.due(20 * kMiB));
  EXPECT_TRUE(w.due(20 * kMiB + 1));
}

TEST(PeakWatch, ResetForgetsTheParentsPeaks) {
  PeakWatch w;
  w.init(10);
  char previous[64];
  w.published("parent.heap", 50 * kMiB, previous, sizeof(previous));
  w.reset();
  EXPECT_STREQ(w.newest(), "");
  EXPECT_TRUE(w.due(2 * kMiB)) << "a child's first peak is its own";
}

TEST(PeakWatch, LiveBytesAddUpEveryStack) {
  Arena arena;
  StackTable t;
  ASSERT_TRUE(t.init(1024, &arena));
  uintptr_t a[] = {0x1000, 0x2000};
  uintptr_t b[] = {0x1000, 0x3000};
  leakprobe::Bucket* x = t.intern(a, 2, false);
  leakprobe::Bucket* y = t.intern(b, 2, false);
  x->on_alloc(100);
  x->on_alloc(50);
  y->on_alloc(1000);
  x->on_free(50);
  EXPECT_EQ(leakprobe::live_heap_bytes(t), 1100u);
  y->on_free(1000);
  EXPECT_EQ(leakprobe::live_heap_bytes(t), 100u);
}
