// LEAKPROBE_PEAK's bookkeeping without a process: when a peak snapshot is due, which one is
// the newest, what it replaces, and the live total it is decided on.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "peak_watch.h"
#include "retention.h"
#include "stack_table.h"

using leakprobe::Arena;
using leakprobe::PeakWatch;
using leakprobe::StackTable;

using leakprobe::PeakFile;

namespace {
constexpr uint64_t kMiB = uint64_t{1} << 20;

PeakFile file(const char* path, dev_t dev = 1, ino_t ino = 1) {
  PeakFile f;
  snprintf(f.path, sizeof(f.path), "%s", path);
  f.dev = dev;
  f.ino = ino;
  return f;
}
}  // namespace

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
  PeakFile previous;
  w.published(file("/d/leakprobe.1.0001.heap", 7, 100), 10 * kMiB, &previous);
  EXPECT_STREQ(previous.path, "");
  EXPECT_STREQ(w.newest(), "/d/leakprobe.1.0001.heap");
  EXPECT_FALSE(w.due(10 * kMiB)) << "the same peak again";
  EXPECT_FALSE(w.due(11 * kMiB)) << "exactly +10% is not past it";
  EXPECT_TRUE(w.due(11 * kMiB + 1));
  EXPECT_FALSE(w.due(5 * kMiB)) << "a falling heap never makes a peak";
  w.published(file("/d/leakprobe.1.0002.heap", 7, 200), 12 * kMiB, &previous);
  EXPECT_STREQ(previous.path, "/d/leakprobe.1.0001.heap")
      << "the older peak is handed back for removal";
  // With the identity it was published with: only that very file is removed.
  EXPECT_EQ(previous.dev, 7u);
  EXPECT_EQ(previous.ino, 100u);
  EXPECT_STREQ(w.newest(), "/d/leakprobe.1.0002.heap");
  EXPECT_EQ(w.newest_bytes(), 12 * kMiB);
}

TEST(PeakWatch, GrowthSetting) {
  PeakWatch w;
  w.init(100);
  PeakFile previous;
  w.published(file("a"), 10 * kMiB, &previous);
  EXPECT_FALSE(w.due(20 * kMiB));
  EXPECT_TRUE(w.due(20 * kMiB + 1));
}

TEST(PeakWatch, ResetForgetsTheParentsPeaks) {
  PeakWatch w;
  w.init(10);
  PeakFile previous;
  w.published(file("parent.heap"), 50 * kMiB, &previous);
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

// What the writer does with a new peak: the replaced peak snapshot is deleted through
// retention's same-file check, so a file put under its name by someone else survives.
TEST(PeakWatch, TheReplacedPeakIsDeletedOnlyIfStillOurs) {
  char dir[] = "/tmp/lp_peak_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  auto publish = [&dir](const char* name) {
    PeakFile f;
    snprintf(f.path, sizeof(f.path), "%s/%s", dir, name);
    std::ofstream(f.path) << "heap profile\n";
    struct stat st;
    EXPECT_EQ(stat(f.path, &st), 0);
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    return f;
  };
  auto exists = [&dir](const char* name) {
    return access((std::string(dir) + "/" + name).c_str(), F_OK) == 0;
  };
  PeakWatch w;
  w.init(10);
  PeakFile previous;
  w.published(publish("p1.heap"), 10 * kMiB, &previous);
  w.published(publish("p2.heap"), 20 * kMiB, &previous);
  EXPECT_TRUE(leakprobe::remove_if_same_file(previous.path, previous.dev, previous.ino));
  EXPECT_FALSE(exists("p1.heap")) << "the probe's own older peak goes";
  // The user keeps p2 by copying it back over itself (a new inode under the same name).
  std::ofstream(std::string(dir) + "/kept") << "kept by the user\n";
  ASSERT_EQ(rename((std::string(dir) + "/kept").c_str(), (std::string(dir) + "/p2.heap").c_str()),
            0);
  w.published(publish("p3.heap"), 30 * kMiB, &previous);
  EXPECT_FALSE(leakprobe::remove_if_same_file(previous.path, previous.dev, previous.ino));
  EXPECT_TRUE(exists("p2.heap")) << "not the file the probe published any more";
  EXPECT_TRUE(exists("p3.heap"));
  std::filesystem::remove_all(dir);
}
