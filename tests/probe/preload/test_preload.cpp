// Programs run with LD_PRELOAD=libleakprobe.so; their snapshots are parsed and the counts
// of each allocation site (found by symbolizing the leaf frame) must be exact.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "harness.h"

using namespace probe_test;

namespace {

class Preload : public TempDirTest {
 protected:
  Preload() : TempDirTest("preload") {}
};

// Waits (bounded) until dir holds at least n snapshots of pid.
std::vector<std::string> wait_for_snapshots(const std::string& dir, pid_t pid, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::vector<std::string> files;
  while (std::chrono::steady_clock::now() < deadline) {
    files = snapshot_files(dir, std::to_string(pid));
    if (files.size() >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return files;
}

}  // namespace

TEST_F(Preload, EveryInterposedFunctionAndCornerIsCountedExactly) {
  RunResult r = run({PROG_API}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.status << "\n" << r.err;
  EXPECT_EQ(r.err, "") << "quiet probe, no failures: nothing on stderr";
  auto files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 1u);
  Snapshot s = load(files[0]);
  expect_well_formed(s);
  EXPECT_EQ(s.get("trigger"), "exit");
  EXPECT_EQ(s.tag, "heapprofile");
  Symbolizer sym;
  sym.add_module(PROG_API, s);

  struct Expect {
    const char* fn;
    int64_t live_objs, live_bytes;
    uint64_t alloc_objs, alloc_bytes;
  } const expected[] = {
      {"site_malloc_40004", 1, 40004, 1, 40004},
      {"site_calloc_10007", 1, 10007, 1, 10007},
      {"site_realloc_null_10009", 1, 10009, 1, 10009},
      {"site_malloc_10011", 0, 0, 1, 10011},  // moved away by the realloc
      {"site_realloc_20011", 1, 20011, 1, 20011},
      {"site_malloc_10013", 0, 0, 1, 10013},      // freed by realloc(p, 0)
      {"site_malloc_10017", 1, 10017, 1, 10017},  // the failed realloc kept it
      {"site_reallocarray_30057", 1, 30057, 1, 30057},
      {"site_posix_memalign_40009", 1, 40009, 1, 40009},
      {"site_aligned_alloc_40064", 1, 40064, 1, 40064},
      {"site_memalign_40021", 1, 40021, 1, 40021},
      {"site_valloc_40031", 1, 40031, 1, 40031},
      {"site_pvalloc_40037", 1, 40037, 1, 40037},
      {"site_malloc_free_10039", 0, 0, 5, 50195},
      {"site_thread_10047", 1, 10047, 1, 10047},  // outlives its thread
  };
  for (const auto& e : expected) {
    Counts c = site(s, sym, e.fn);
    EXPECT_EQ(c.lines, 1) << e.fn;
    EXPECT_EQ(c.live_objs, e.live_objs) << e.fn;
    EXPECT_EQ(c.live_bytes, e.live_bytes) << e.fn;
    EXPECT_EQ(c.alloc_objs, e.alloc_objs) << e.fn;
    EXPECT_EQ(c.alloc_bytes, e.alloc_bytes) << e.fn;
  }
  // Calls that allocate nothing leave no stack behind.
  for (const char* fn : {"site_calloc_overflow", "site_realloc_zero", "site_realloc_huge",
                         "site_reallocarray_overflow", "site_posix_memalign_bad"}) {
    EXPECT_EQ(site(s, sym, fn).lines, 0) << fn;
  }
  // operator new[] allocates through malloc: its caller is the second frame.
  Counts n = site(s, sym, "site_new_10043", 1);
  EXPECT_EQ(n.live_objs, 1);
  EXPECT_EQ(n.live_bytes, 10043);
  // The exception object thrown through site_throw was allocated and freed.
  Counts ex = site(s, sym, "site_throw", 1);
  EXPECT_EQ(ex.live_objs, 0);
  EXPECT_GE(ex.alloc_objs, 1u);
  // Frames of the probe itself are never written.
  for (const auto& l : s.stacks) EXPECT_NE(sym.name_at(l.frames[0]), "malloc");
}

TEST_F(Preload, EightThreadsWithConcurrentSnapshotsKeepExactCounts) {
  RunResult r = run({PROG_THREADS}, dir_, {}, 120);
  ASSERT_TRUE(r.exited_ok()) << r.status << "\n" << r.err;
  EXPECT_NE(r.out.find("requests-ok 10"), std::string::npos) << r.out << r.err;
  auto files = snapshot_files(dir_);
  ASSERT_GE(files.size(), 11u) << "10 requests (+ signals, coalesced) + exit";
  Snapshot last;
  for (const auto& f : files) {
    Snapshot s = load(f);
    expect_well_formed(s);
    if (s.get("trigger") == "exit") last = s;
  }
  ASSERT_EQ(last.get("trigger"), "exit");
  Symbolizer sym;
  sym.add_module(PROG_THREADS, last);
  Counts leak = site(last, sym, "site_leak_10061");
  EXPECT_EQ(leak.live_objs, 80);
  EXPECT_EQ(leak.live_bytes, 80 * 10061);
  Counts churn = site(last, sym, "site_churn_small");
  EXPECT_EQ(churn.live_objs, 0);
  EXPECT_EQ(churn.alloc_objs, 8u * 20000u);
  Counts re = site(last, sym, "site_churn_realloc");
  EXPECT_EQ(re.live_objs, 0);
  EXPECT_EQ(re.alloc_objs, 8u * 6667u);
}

TEST_F(Preload, ForkedChildProfilesUnderItsOwnPid) {
  RunResult r = run({PROG_FORK}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.status << "\n" << r.err;
  int child = 0, parent = 0;
  ASSERT_EQ(sscanf(r.out.c_str(), "child %d\nparent %d", &child, &parent), 2) << r.out;
  auto child_files = snapshot_files(dir_, std::to_string(child));
  auto parent_files = snapshot_files(dir_, std::to_string(parent));
  ASSERT_EQ(child_files.size(), 2u) << "the child's requested snapshot and its exit snapshot";
  ASSERT_EQ(parent_files.size(), 1u);
  EXPECT_NE(child_files[0].find("." + std::to_string(child) + ".0001.heap"), std::string::npos)
      << "sequence restarts at 1 in the child";

  Snapshot c = load(child_files[1]);
  expect_well_formed(c);
  EXPECT_EQ(c.get("pid"), std::to_string(child));
  EXPECT_EQ(c.get("ppid"), std::to_string(parent));
  EXPECT_EQ(c.get("trigger"), "exit");
  Symbolizer sym;
  sym.add_module(PROG_FORK, c);
  EXPECT_EQ(site(c, sym, "site_child_30013").live_objs, 5);
  EXPECT_EQ(site(c, sym, "site_parent_30011").live_objs, 3) << "inherited from before the fork";

  Snapshot p = load(parent_files[0]);
  expect_well_formed(p);
  EXPECT_EQ(p.get("ppid"), "");
  Symbolizer psym;
  psym.add_module(PROG_FORK, p);
  EXPECT_EQ(site(p, psym, "site_parent_30011").live_objs, 3);
  EXPECT_EQ(site(p, psym, "site_child_30013").lines, 0) << "the child's allocations stay there";
}

TEST_F(Preload, DlopenedLibraryAllocationsAreAttributedAndSurviveDlclose) {
  RunResult r = run({PROG_DLOPEN, DLOPEN_LIB}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.status << "\n" << r.err;
  auto files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 2u);
  Snapshot loaded = load(files[0]);
  Snapshot after = load(files[1]);
  expect_well_formed(loaded);
  expect_well_formed(after);
  Symbolizer sym;
  sym.add_module(DLOPEN_LIB, loaded);
  Counts c = site(loaded, sym, "lib_alloc_50021");
  EXPECT_EQ(c.live_objs, 2);
  EXPECT_EQ(c.live_bytes, 100042);
  // After dlclose the stack keeps its (now unmapped) addresses and its counts.
  Counts still = site(after, sym, "lib_alloc_50021");
  EXPECT_EQ(still.live_objs, 2);
  bool lib_mapped = false;
  std::string libname = std::string(DLOPEN_LIB).substr(std::string(DLOPEN_LIB).rfind('/') + 1);
  for (const auto& m : after.maps) lib_mapped |= m.path.find(libname) != std::string::npos;
  EXPECT_FALSE(lib_mapped) << "maps are read at snapshot time";
}

TEST_F(Preload, ExecStartsAFreshProbeThatContinuesTheSequence) {
  RunResult r = run({PROG_EXEC, "stage1"}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.status << "\n" << r.err;
  auto files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 2u);
  Snapshot before = load(files[0]);
  Snapshot after = load(files[1]);
  EXPECT_EQ(before.get("pid"), after.get("pid"));
  EXPECT_EQ(before.get("sequence"), "1");
  EXPECT_EQ(after.get("sequence"), "2");
  EXPECT_EQ(after.get("trigger"), "exit");
  Symbolizer sb, sa;
  sb.add_module(PROG_EXEC, before);
  sa.add_module(PROG_EXEC, after);
  EXPECT_EQ(site(before, sb, "site_exec1_60013").live_objs, 1);
  EXPECT_EQ(site(after, sa, "site_exec2_60017").live_objs, 1);
  EXPECT_EQ(site(after, sa, "site_exec1_60013").lines, 0) << "the new image starts empty";
}

TEST_F(Preload, SignalAndControlSocketSnapshots) {
  Child c({PROG_WAIT}, dir_);
  std::string ready = c.read_line(20);
  ASSERT_EQ(ready, "ready " + std::to_string(c.pid()));

  ASSERT_EQ(kill(c.pid(), SIGRTMIN + 7), 0);
  auto files = wait_for_snapshots(dir_, c.pid(), 1);
  ASSERT_EQ(files.size(), 1u);
  Snapshot s = load(files[0]);
  expect_well_formed(s);
  EXPECT_EQ(s.get("trigger"), "signal");
  Symbolizer sym;
  sym.add_module(PROG_WAIT, s);
  EXPECT_EQ(site(s, sym, "site_wait_70001").live_objs, 1);

  std::string reply = control_request(c.pid(), "snapshot\n");
  ASSERT_EQ(reply.rfind("ok /", 0), 0u) << reply;
  ASSERT_EQ(reply.back(), '\n');
  std::string path = reply.substr(3, reply.size() - 4);
  EXPECT_EQ(path, dir_ + "/leakprobe." + std::to_string(c.pid()) + ".0002.heap");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0) << "published before the reply";
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Snapshot q = load(path);
  EXPECT_EQ(q.get("trigger"), "request");

  EXPECT_EQ(control_request(c.pid(), "hello\n").rfind("error ", 0), 0u);

  int status = c.finish(30);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << c.err();
  EXPECT_EQ(snapshot_files(dir_).size(), 3u) << "signal, request, exit";
  for (const auto& f : all_files(dir_)) EXPECT_NE(f[0], '.') << "temporary left: " << f;
}

TEST_F(Preload, IntervalSnapshots) {
  Child c({PROG_WAIT}, dir_, {"LEAKPROBE_INTERVAL=1", "LEAKPROBE_AT_EXIT=0"});
  ASSERT_EQ(c.read_line(20), "ready " + std::to_string(c.pid()));
  auto files = wait_for_snapshots(dir_, c.pid(), 2);
  ASSERT_GE(files.size(), 2u);
  int status = c.finish(30);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (const auto& f : snapshot_files(dir_)) EXPECT_EQ(load(f).get("trigger"), "interval");
}

TEST_F(Preload, UnwritableOutputDirSaysSoOnceAndTheHostCarriesOn) {
  std::string file = dir_ + "/a-file";
  std::ofstream(file) << "x";
  Child c({PROG_WAIT}, dir_, {"LEAKPROBE_OUTPUT_DIR=" + file + "/sub"});
  ASSERT_EQ(c.read_line(20), "ready " + std::to_string(c.pid()));
  // Two failing snapshots (request + exit): still one line.
  EXPECT_EQ(control_request(c.pid(), "snapshot\n").rfind("error ", 0), 0u);
  int status = c.finish(30);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(std::count(c.err().begin(), c.err().end(), '\n'), 1) << c.err();
  EXPECT_NE(c.err().find("leakprobe: cannot create the snapshot file"), std::string::npos)
      << c.err();
  EXPECT_EQ(all_files(dir_), std::vector<std::string>{"a-file"});
}

TEST_F(Preload, BadSettingsAreReportedAndDefaultsUsed) {
  RunResult r = run({PROG_API}, dir_,
                    {"LEAKPROBE_DEPTH=abc", "LEAKPROBE_SIGNAL=SIGUSR1", "LEAKPROBE_INTERVAL=-1",
                     "LEAKPROBE_TYPO=1"});
  ASSERT_TRUE(r.exited_ok()) << r.err;
  EXPECT_NE(r.err.find("leakprobe: LEAKPROBE_DEPTH=abc is not a depth in 1..128; using 32"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("leakprobe: LEAKPROBE_SIGNAL=SIGUSR1 is refused"), std::string::npos);
  EXPECT_NE(r.err.find("leakprobe: LEAKPROBE_INTERVAL=-1"), std::string::npos);
  EXPECT_NE(r.err.find("leakprobe: LEAKPROBE_TYPO is not a leakprobe setting"), std::string::npos);
  auto files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(load(files[0]).get("depth"), "32");
}

TEST_F(Preload, DormantProbeWritesNothing) {
  RunResult r = run({PROG_API}, dir_, {"LEAKPROBE_ENABLED=0"});
  ASSERT_TRUE(r.exited_ok()) << r.err;
  EXPECT_TRUE(all_files(dir_).empty());
}

TEST_F(Preload, SampledModeWritesHeapV2) {
  RunResult r = run({PROG_THREADS}, dir_, {"LEAKPROBE_SAMPLE_BYTES=4096"}, 120);
  ASSERT_TRUE(r.exited_ok()) << r.err;
  auto files = snapshot_files(dir_);
  ASSERT_FALSE(files.empty());
  Snapshot s = load(files.back());
  expect_well_formed(s);
  EXPECT_EQ(s.tag, "heap_v2/4096");
  EXPECT_EQ(s.get("sampling"), "4096");
  Symbolizer sym;
  sym.add_module(PROG_THREADS, s);
  // 10061-byte blocks at a 4 KiB mean are sampled with p = 0.91: most of the 80 show up,
  // and none of the churn (all freed) stays live.
  Counts leak = site(s, sym, "site_leak_10061");
  EXPECT_GE(leak.live_objs, 50);
  EXPECT_LE(leak.live_objs, 80);
  EXPECT_EQ(site(s, sym, "site_churn_small").live_objs, 0);
}

TEST_F(Preload, HostThatClosesAllDescriptorsKeepsItsOwnSocketAndTheSignalWorks) {
  Child c({PROG_CLOSEFDS}, dir_);
  std::string ready = c.read_line(20);
  ASSERT_EQ(ready.rfind("ready " + std::to_string(c.pid()), 0), 0u) << ready << c.err();
  ASSERT_EQ(kill(c.pid(), SIGRTMIN + 7), 0);
  auto files = wait_for_snapshots(dir_, c.pid(), 1);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(load(files[0]).get("trigger"), "signal");
  // The host's socket (very likely on our old descriptor number) answers the host's way.
  std::string host_socket = "probe-host." + std::to_string(c.pid());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(socket_request(host_socket, "ping\n"), "pong\n") << i;
  // Our socket is gone (it may still accept a connection that is then dropped unanswered).
  EXPECT_EQ(control_request(c.pid(), "snapshot\n").rfind("ok", 0), std::string::npos);
  ASSERT_EQ(kill(c.pid(), SIGRTMIN + 7), 0);
  files = wait_for_snapshots(dir_, c.pid(), 2);
  EXPECT_EQ(files.size(), 2u);
  int status = c.finish(30);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << c.err();
  EXPECT_EQ(snapshot_files(dir_).size(), 3u);
}

TEST_F(Preload, ForkWhileThreadsAllocateAndSnapshotsAreWritten) {
  RunResult r = run({PROG_FORK_STRESS}, dir_, {"LEAKPROBE_AT_EXIT=0"}, 120);
  ASSERT_TRUE(r.exited_ok()) << r.status << "\n" << r.out << r.err;
  EXPECT_NE(r.out.find("children-ok 20"), std::string::npos) << r.out << r.err;
  // Every child wrote its own snapshot under its own pid, with the parent's pid recorded.
  int children = 0;
  for (const auto& f : snapshot_files(dir_)) {
    Snapshot s = load(f);
    expect_well_formed(s);
    if (!s.get("ppid").empty()) {
      ++children;
      Symbolizer sym;
      sym.add_module(PROG_FORK_STRESS, s);
      EXPECT_EQ(site(s, sym, "site_child_90001").live_objs, 1) << f;
    }
  }
  EXPECT_EQ(children, 20);
}

TEST_F(Preload, DepthLimitCutsStacksBelowTheProbeFrames) {
  RunResult r = run({PROG_API}, dir_, {"LEAKPROBE_DEPTH=2"});
  ASSERT_TRUE(r.exited_ok()) << r.err;
  auto files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 1u);
  Snapshot s = load(files[0]);
  expect_well_formed(s);
  EXPECT_EQ(s.get("depth"), "2");
  EXPECT_GT(std::stoi(s.get("truncated-stacks")), 0);
  for (const auto& l : s.stacks) EXPECT_LE(l.frames.size(), 2u);
  Symbolizer sym;
  sym.add_module(PROG_API, s);
  // The kept frames are the ones nearest the allocation: leaf in the site, then main.
  Counts c = site(s, sym, "site_malloc_40004");
  EXPECT_EQ(c.live_bytes, 40004);
  EXPECT_GT(site(s, sym, "main", 1).lines, 0);
}

TEST_F(Preload, ExitingWhileASnapshotIsBeingWrittenLeavesCompleteFilesOnly) {
  // The signal and the end of stdin arrive together: the exit snapshot may have to wait for
  // the signal's. Either way the process exits promptly and every file is complete.
  for (int round = 0; round < 5; ++round) {
    Child c({PROG_WAIT}, dir_);
    ASSERT_EQ(c.read_line(20), "ready " + std::to_string(c.pid()));
    ASSERT_EQ(kill(c.pid(), SIGRTMIN + 7), 0);
    int status = c.finish(30);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << c.err();
    auto files = snapshot_files(dir_, std::to_string(c.pid()));
    ASSERT_GE(files.size(), 1u);
    ASSERT_LE(files.size(), 2u);
    bool saw_exit = false;
    for (const auto& f : files) {
      Snapshot s = load(f);
      expect_well_formed(s);
      saw_exit |= s.get("trigger") == "exit";
    }
    EXPECT_TRUE(saw_exit);
  }
  for (const auto& f : all_files(dir_)) EXPECT_NE(f[0], '.') << "temporary left: " << f;
}
