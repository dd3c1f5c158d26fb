// The snapshot writer checked against docs/snapshot-format.md by parsing its output back,
// and the publishing rules (0600, atomic, never overwrite, nothing left on failure).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "age_census.h"
#include "snapshot_file.h"
#include "snapshot_reader.h"
#include "snapshot_writer.h"
#include "tracker.h"

using leakprobe::Options;
using leakprobe::Tracker;
using probe_test::Snapshot;

namespace {

class StringOut final : public leakprobe::Out {
 public:
  std::string text;
  ~StringOut() = default;

 private:
  bool sink(const char* data, size_t n) override {
    text.append(data, n);
    return true;
  }
};

Snapshot write_and_parse(const Tracker& t, const leakprobe::SnapshotInfo& info) {
  StringOut out;
  EXPECT_TRUE(leakprobe::write_snapshot(out, t, info));
  Snapshot s;
  std::string err;
  EXPECT_TRUE(probe_test::parse_snapshot(out.text, &s, &err)) << err << "\n" << out.text;
  return s;
}

// A temporary directory removed when the test ends.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/probe-writer-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST(SnapshotWriter, OutputParsesBackWithConsistentTotals) {
  Options o;
  o.depth = 16;
  auto t = std::make_unique<Tracker>();
  ASSERT_TRUE(t->init(o));
  const uintptr_t a[] = {0x401000, 0x402000}, b[] = {0x403000}, c[] = {0x404000, 0x405000};
  t->record_alloc(reinterpret_cast<void*>(0x1000), 40004, a, 2, false);
  t->record_alloc(reinterpret_cast<void*>(0x2000), 40004, a, 2, false);
  t->record_alloc(reinterpret_cast<void*>(0x3000), 10007, b, 1, false);
  t->record_alloc(reinterpret_cast<void*>(0x4000), 99, c, 2, true);
  t->record_free(reinterpret_cast<void*>(0x2000));
  t->record_free(reinterpret_cast<void*>(0x4000));

  leakprobe::SnapshotInfo info;
  info.pid = 4242;
  info.sequence = 3;
  info.trigger = "signal";
  info.time_sec = 1795777200;
  info.time_usec = 125000;
  Snapshot s = write_and_parse(*t, info);

  EXPECT_EQ(s.tag, "heapprofile");
  EXPECT_TRUE(s.has_trailer);
  EXPECT_EQ(s.get("format"), "1");
  EXPECT_EQ(s.get("pid"), "4242");
  EXPECT_EQ(s.get("ppid"), "") << "only forked children carry ppid";
  EXPECT_EQ(s.get("time"), "1795777200.125000");
  EXPECT_EQ(s.get("sequence"), "3");
  EXPECT_EQ(s.get("trigger"), "signal");
  EXPECT_EQ(s.get("sampling"), "0");
  EXPECT_EQ(s.get("depth"), "16");
  EXPECT_EQ(s.get("stacks"), "3");
  EXPECT_EQ(s.get("truncated-stacks"), "1");
  EXPECT_GT(std::stoull(s.get("probe-bytes")), 0u);
  EXPECT_NE(s.get("exe").find("probe_unit_tests"), std::string::npos) << s.get("exe");
  EXPECT_GE(s.meta.count("build-id"), 2u) << "the test executable and libc at least";

  ASSERT_EQ(s.stacks.size(), 3u);
  int64_t lo = 0, lb = 0;
  uint64_t ao = 0, ab = 0;
  bool saw_a = false;
  for (const auto& l : s.stacks) {
    lo += l.live_objs;
    lb += l.live_bytes;
    ao += l.alloc_objs;
    ab += l.alloc_bytes;
    if (l.frames == std::vector<uint64_t>{0x401000, 0x402000}) {
      saw_a = true;
      EXPECT_EQ(l.live_objs, 1);
      EXPECT_EQ(l.live_bytes, 40004);
      EXPECT_EQ(l.alloc_objs, 2u);
      EXPECT_EQ(l.alloc_bytes, 80008u);
    }
  }
  EXPECT_TRUE(saw_a);
  EXPECT_EQ(s.live_objs, lo);
  EXPECT_EQ(s.live_bytes, lb);
  EXPECT_EQ(s.alloc_objs, ao);
  EXPECT_EQ(s.alloc_bytes, ab);
  EXPECT_EQ(lo, 2);
  EXPECT_EQ(lb, 50011);
  EXPECT_FALSE(s.maps.empty()) << "the /proc/self/maps copy";
}

TEST(SnapshotWriter, SampledSnapshotsUseTheHeapV2Tag) {
  Options o;
  o.sample_bytes = 524288;
  auto t = std::make_unique<Tracker>();
  ASSERT_TRUE(t->init(o));
  const uintptr_t a[] = {0x401000};
  t->record_alloc(reinterpret_cast<void*>(0x1000), 1 << 20, a, 1, false);
  Snapshot s = write_and_parse(*t, leakprobe::SnapshotInfo());
  EXPECT_EQ(s.tag, "heap_v2/524288");
  EXPECT_EQ(s.get("sampling"), "524288");
}

TEST(SnapshotWriter, ManyStacksAcrossBufferFlushes) {
  Options o;
  auto t = std::make_unique<Tracker>();
  ASSERT_TRUE(t->init(o));
  for (uintptr_t i = 1; i <= 5000; ++i) {
    uintptr_t frames[3] = {i * 16, 0x500000, 0x600000};
    t->record_alloc(reinterpret_cast<void*>(i * 64), i, frames, 3, false);
  }
  Snapshot s = write_and_parse(*t, leakprobe::SnapshotInfo());
  EXPECT_EQ(s.stacks.size(), 5000u);
  EXPECT_EQ(s.get("stacks"), "5000");
  EXPECT_EQ(s.live_bytes, 5000 * 5001 / 2);
}

namespace {
bool write_hello(int fd, unsigned, void*) { return write(fd, "hello\n", 6) == 6; }
bool write_half_then_fail(int fd, unsigned, void*) {
  if (write(fd, "half", 4) != 4) return false;
  errno = ENOSPC;  // what a full disk reports
  return false;
}
}  // namespace

TEST(SnapshotFile, PublishesMode0600AndNeverOverwrites) {
  TempDir tmp;
  const std::string& dir = tmp.str();
  mode_t old_umask = umask(022);
  auto r1 = leakprobe::publish_snapshot(dir.c_str(), 77, 4026531836ULL, 1, write_hello, nullptr);
  auto r2 = leakprobe::publish_snapshot(dir.c_str(), 77, 4026531836ULL, 1, write_hello, nullptr);
  umask(old_umask);
  ASSERT_TRUE(r1.ok) << r1.error;
  ASSERT_TRUE(r2.ok) << r2.error;
  EXPECT_EQ(std::string(r1.path), dir + "/leakprobe.77.0001.heap");
  EXPECT_EQ(std::string(r2.path), dir + "/leakprobe.77.0002.heap") << "an existing file is kept";
  EXPECT_EQ(r2.sequence, 2u);
  struct stat st;
  ASSERT_EQ(stat(r1.path, &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(list_dir(dir),
            (std::vector<std::string>{"leakprobe.77.0001.heap", "leakprobe.77.0002.heap"}))
      << "no temporary left behind";
  std::ifstream f(r1.path);
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, "hello");
}

namespace {
// The temporary file a process with pid 80 in pid namespace `ns` is writing as sequence 1.
std::string tmp_name(const std::string& dir, unsigned long long ns) {
  return dir + "/.leakprobe.80.0001.heap." + std::to_string(ns) + ".tmp";
}
}  // namespace

// Two containers (two pid namespaces), each with a pid 80, write one directory: neither may take
// the other's file in progress for a leftover, and both snapshots are published.
TEST(SnapshotFile, ATwinInAnotherPidNamespaceKeepsItsFileInProgress) {
  TempDir tmp;
  const std::string& dir = tmp.str();
  const unsigned long long ours = 4026531836ULL, twins = 4026532999ULL;
  std::ofstream(tmp_name(dir, twins)) << "the twin is half-way";
  auto r = leakprobe::publish_snapshot(dir.c_str(), 80, ours, 1, write_hello, nullptr);
  ASSERT_TRUE(r.ok) << r.error;
  std::ifstream twin(tmp_name(dir, twins));
  std::string line;
  ASSERT_TRUE(std::getline(twin, line)) << "the twin's temporary file was removed";
  EXPECT_EQ(line, "the twin is half-way");
  // The twin publishes next: its snapshot gets the next free name, ours stays.
  ASSERT_EQ(link(tmp_name(dir, twins).c_str(), (dir + "/leakprobe.80.0002.heap").c_str()), 0);
  EXPECT_EQ(std::string(r.path), dir + "/leakprobe.80.0001.heap");
}

// A leftover under our own pid and namespace is ours (a process that died mid-write): reused.
TEST(SnapshotFile, OwnLeftoverIsReplaced) {
  TempDir tmp;
  const std::string& dir = tmp.str();
  const unsigned long long ours = 4026531836ULL;
  std::ofstream(tmp_name(dir, ours)) << "killed mid-write";
  auto r = leakprobe::publish_snapshot(dir.c_str(), 80, ours, 1, write_hello, nullptr);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"leakprobe.80.0001.heap"});
}

// Without /proc the namespace is unknown (0): the temporary name is made unique instead, and
// nothing that might be another process's file is removed.
TEST(SnapshotFile, UnknownNamespaceRemovesNothingItDidNotWrite) {
  TempDir tmp;
  const std::string& dir = tmp.str();
  std::ofstream(tmp_name(dir, 0)) << "someone's";
  auto r = leakprobe::publish_snapshot(dir.c_str(), 80, 0, 1, write_hello, nullptr);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(list_dir(dir),
            (std::vector<std::string>{".leakprobe.80.0001.heap.0.tmp", "leakprobe.80.0001.heap"}));
}

TEST(SnapshotFile, FailedWriteLeavesNoFile) {
  TempDir tmp;
  const std::string& dir = tmp.str();
  auto r =
      leakprobe::publish_snapshot(dir.c_str(), 78, 4026531836ULL, 1, write_half_then_fail, nullptr);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.err, ENOSPC);
  EXPECT_TRUE(list_dir(dir).empty());
}

TEST(SnapshotFile, UnwritableDirectoryFailsCleanly) {
  TempDir tmp;
  const std::string& dir = tmp.str();
  std::string file = dir + "/not-a-dir";
  std::ofstream(file) << "x";
  auto r = leakprobe::publish_snapshot((file + "/sub").c_str(), 79, 4026531836ULL, 1, write_hello,
                                       nullptr);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.err, ENOTDIR);
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"not-a-dir"});
}

namespace {

double wall_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// "<state> since <time>" -> state and time.
std::pair<std::string, double> recording_line(const Snapshot& s) {
  const std::string v = s.get("recording");
  const size_t at = v.find(" since ");
  EXPECT_NE(at, std::string::npos) << "recording line: '" << v << "'";
  if (at == std::string::npos) return {v, 0};
  return {v.substr(0, at), std::stod(v.substr(at + 7))};
}

}  // namespace

// Issue 24 item 3: a snapshot says whether the probe was recording and since when, so heapdiff
// can refuse to call an interval with recording off "no growth".
TEST(SnapshotWriter, SaysWhetherAndSinceWhenTheProbeRecorded) {
  leakprobe::SnapshotInfo info;
  info.pid = 4242;
  Options o;
  o.enabled = false;
  auto t = std::make_unique<Tracker>();
  const double before_init = wall_now();
  ASSERT_TRUE(t->init(o));
  const double after_init = wall_now();

  Snapshot dormant = write_and_parse(*t, info);
  auto [state, since] = recording_line(dormant);
  EXPECT_EQ(state, "dormant");
  EXPECT_GE(since, before_init - 0.001);
  EXPECT_LE(since, after_init + 0.001);
  EXPECT_EQ(dormant.meta.count("recording-changed"), 0u) << "never switched";

  const double before_enable = wall_now();
  t->set_recording(true);
  const double after_enable = wall_now();
  Snapshot on = write_and_parse(*t, info);
  std::tie(state, since) = recording_line(on);
  EXPECT_EQ(state, "on");
  EXPECT_GE(since, before_enable - 0.001);
  EXPECT_LE(since, after_enable + 0.001);
  const double first_switch = std::stod(on.get("recording-changed"));
  EXPECT_DOUBLE_EQ(first_switch, since);

  t->set_recording(true);  // no change: the time stays
  EXPECT_EQ(recording_line(write_and_parse(*t, info)).second, since);

  t->set_recording(false);
  Snapshot off = write_and_parse(*t, info);
  std::tie(state, since) = recording_line(off);
  EXPECT_EQ(state, "off") << "recorded once, now disabled";
  EXPECT_GE(since, first_switch);
  EXPECT_DOUBLE_EQ(std::stod(off.get("recording-changed")), first_switch)
      << "the first switch is kept";
}

TEST(SnapshotWriter, RecordingOnFromTheStartHasNoChangeLine) {
  leakprobe::SnapshotInfo info;
  Options o;
  auto t = std::make_unique<Tracker>();
  ASSERT_TRUE(t->init(o));
  Snapshot s = write_and_parse(*t, info);
  EXPECT_EQ(recording_line(s).first, "on");
  EXPECT_EQ(s.meta.count("recording-changed"), 0u);
}

// The age of live memory (format::kKeyAge*): each stack line is followed by its blocks by
// age bucket, the byte-weighted mean age and, per earlier snapshot in the history, what of
// it is still live. The clock is moved, the blocks go through the real map and census.
TEST(SnapshotWriter, AgeLinesCountLiveBlocksByAgeAndSurvivorsOfEarlierSnapshots) {
  Options o;
  auto t = std::make_unique<Tracker>();
  ASSERT_TRUE(t->init(o));
  const uintptr_t old_stack[] = {0x401000}, young_stack[] = {0x402000}, gone[] = {0x403000};
  t->record_alloc(reinterpret_cast<void*>(0x10000), 1000, old_stack, 1, false);
  t->record_alloc(reinterpret_cast<void*>(0x20000), 3000, old_stack, 1, false);
  t->record_alloc(reinterpret_cast<void*>(0x30000), 64, gone, 1, false);
  t->advance_clock_for_tests(2 * 86400);  // two days later: a first snapshot
  leakprobe::AgeHistory history;
  history.add(leakprobe::AgeCutoff{1, 1795777200, 0, t->now_ms()});
  t->advance_clock_for_tests(4);  // a multiple of the unit below, so ages come out exact
  t->record_free(reinterpret_cast<void*>(0x30000));
  t->record_alloc(reinterpret_cast<void*>(0x40000), 500, young_stack, 1, false);
  t->record_alloc(reinterpret_cast<void*>(0x50000), 4000, old_stack, 1, false);  // young
  t->advance_clock_for_tests(30);

  leakprobe::SnapshotInfo info;
  info.age_history = &history;
  int64_t census_ms = -2;
  info.age_census_ms = &census_ms;
  Snapshot s = write_and_parse(*t, info);
  EXPECT_EQ(s.get("age").substr(0, 35), "buckets=60,3600,86400 resolution=4 ")
      << "2 days passed: 1 s units no longer fit 16 bits, nor 2 s ones";
  EXPECT_EQ(s.get("age-cutoff"), "1 1795777200.000000");
  EXPECT_GE(census_ms, 2 * 86400 * 1000);
  int seen = 0;
  for (const auto& l : s.stacks) {
    if (l.frames == std::vector<uint64_t>{0x401000}) {
      ++seen;
      // 2 blocks 2 days old (4000 B), 1 block 30 s old (4000 B): the mean is byte-weighted.
      const uint64_t mean = (4000 * (2 * 86400 + 34) + 4000 * 30) / 8000;
      EXPECT_EQ(l.age, "1:4000 0:0 0:0 2:4000 mean=" + std::to_string(mean) + " before=2:4000");
    } else if (l.frames == std::vector<uint64_t>{0x402000}) {
      ++seen;
      EXPECT_EQ(l.age, "1:500 0:0 0:0 0:0 mean=30 before=0:0");
    } else if (l.frames == std::vector<uint64_t>{0x403000}) {
      ++seen;
      EXPECT_EQ(l.age, "0:0 0:0 0:0 0:0 mean=0 before=0:0") << "freed: nothing live";
    }
  }
  EXPECT_EQ(seen, 3);
}

// Without a history (the first snapshot) there is no before= list, and blocks from the same
// second as now are younger than a minute.
TEST(SnapshotWriter, AgeLinesWithoutHistory) {
  Options o;
  auto t = std::make_unique<Tracker>();
  ASSERT_TRUE(t->init(o));
  const uintptr_t a[] = {0x401000};
  t->record_alloc(reinterpret_cast<void*>(0x10000), 77, a, 1, false);
  leakprobe::SnapshotInfo info;
  Snapshot s = write_and_parse(*t, info);
  EXPECT_NE(s.get("age").find("buckets=60,3600,86400 resolution=1 census-us="), std::string::npos);
  EXPECT_NE(s.get("age").find(" max-hold-us="), std::string::npos);
  EXPECT_EQ(s.meta.count("age-cutoff"), 0u);
  ASSERT_EQ(s.stacks.size(), 1u);
  EXPECT_EQ(s.stacks[0].age, "1:77 0:0 0:0 0:0 mean=0");
}
