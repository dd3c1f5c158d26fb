// Resource tracking in real processes (host safety): descriptors under 8 racing
// threads, fork, vfork, exec, SCM_RIGHTS, POSIX timers. Each scenario of resources_program
// leaves its exit snapshot; the resource lines are found by symbolizing their leaf frame.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"

using namespace probe_test;

namespace {

class Resources : public TempDirTest {
 protected:
  Resources() : TempDirTest("resources") {}

  // The exit snapshot of the one process (or of `pid`) that wrote into dir_.
  Snapshot only_snapshot(const std::string& pid = "") {
    std::vector<std::string> files = snapshot_files(dir_, pid);
    EXPECT_EQ(files.size(), 1u);
    return files.empty() ? Snapshot() : load(files.back());
  }
};

// Live count of the `kind` lines whose leaf frame is in `fn` ("" = lines without a stack).
uint64_t live(const Snapshot& s, const Symbolizer& sym, const std::string& kind,
              const std::string& fn) {
  uint64_t n = 0;
  for (const ResourceLine& r : s.resources) {
    if (r.kind != kind) continue;
    if (fn.empty() ? r.frames.empty() : !r.frames.empty() && sym.name_at(r.frames[0]) == fn)
      n += r.live;
  }
  return n;
}

uint64_t total_live(const Snapshot& s, const std::string& kind) {
  uint64_t n = 0;
  for (const ResourceLine& r : s.resources)
    if (r.kind == kind) n += r.live;
  return n;
}

TEST_F(Resources, EightThreadsRacingOpenCloseDup2KeepExactCounts) {
  RunResult r = run({PROG_RESOURCES, "race"}, dir_, {}, 120);
  ASSERT_TRUE(r.exited_ok()) << r.err;
  Snapshot s = only_snapshot();
  expect_well_formed(s);
  Symbolizer sym;
  sym.add_module(PROG_RESOURCES, s);
  EXPECT_EQ(s.get("resources"), "1");
  EXPECT_EQ(live(s, sym, "file", "res_keep_site"), 24u);  // 8 threads x 3
  EXPECT_EQ(live(s, sym, "file", "res_dup2_site"), 8u);   // 600..607
  EXPECT_EQ(live(s, sym, "file", "res_churn_site"), 0u);  // every one closed
  EXPECT_EQ(s.get("unseen-closes"), "0");
  EXPECT_EQ(s.get("untracked-fds"), "0");
  // 8 racers + 1 quick thread, all joined.
  EXPECT_EQ(total_live(s, "thread"), 0u);
  uint64_t created = 0;
  for (const ResourceLine& l : s.resources)
    if (l.kind == "thread") created += l.created;
  EXPECT_EQ(created, 9u);
}

TEST_F(Resources, ForkedChildInheritsTheTableButNotTheThreads) {
  RunResult r = run({PROG_RESOURCES, "fork"}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.err;
  std::vector<std::string> files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 2u) << r.err;
  Snapshot a = load(files[0]), b = load(files[1]);
  Snapshot& child = a.get("ppid").empty() ? b : a;
  Snapshot& parent = a.get("ppid").empty() ? a : b;
  Symbolizer sym;
  sym.add_module(PROG_RESOURCES, child);
  EXPECT_EQ(live(child, sym, "tcp", "res_sock_site"), 2u) << "inherited from the parent";
  EXPECT_EQ(live(child, sym, "udp", "res_child_sock_site"), 1u);
  EXPECT_EQ(total_live(child, "thread"), 0u) << "the parent's thread does not exist here";
  Symbolizer psym;
  psym.add_module(PROG_RESOURCES, parent);
  EXPECT_EQ(live(parent, psym, "tcp", "res_sock_site"), 2u);
  EXPECT_EQ(total_live(parent, "udp"), 0u);
  EXPECT_EQ(total_live(parent, "thread"), 1u);  // blocked in pause() at exit
}

TEST_F(Resources, VforkChildClosingADescriptorLeavesTheParentsTable) {
  RunResult r = run({PROG_RESOURCES, "vfork"}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.err;
  Snapshot s = only_snapshot();
  Symbolizer sym;
  sym.add_module(PROG_RESOURCES, s);
  EXPECT_EQ(live(s, sym, "tcp", "res_sock_site"), 1u);
  EXPECT_EQ(s.get("unseen-closes"), "0");
}

TEST_F(Resources, ExecKeepsOnlyTheDescriptorsWithoutCloseOnExec) {
  // What the test harness itself hands every child, as a baseline.
  RunResult plain = run({PROG_RESOURCES, "after-exec"}, dir_);
  ASSERT_TRUE(plain.exited_ok()) << plain.err;
  Snapshot base = only_snapshot();
  remove_tree(dir_);
  dir_ = make_temp_dir("resources");
  RunResult r = run({PROG_RESOURCES, "exec"}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.err;
  Snapshot s = only_snapshot();  // the new image's exit snapshot
  Symbolizer sym;
  sym.add_module(PROG_RESOURCES, s);
  // /dev/null without O_CLOEXEC is one more inherited file in the new image; the other one
  // is gone.
  EXPECT_EQ(live(s, sym, "file", ""), live(base, sym, "file", "") + 1);
  EXPECT_EQ(live(s, sym, "file", "res_inherit_site"), 0u) << "a new image has no old stacks";
  EXPECT_EQ(s.get("untracked-fds"), "0");
}

TEST_F(Resources, DescriptorsReceivedWithScmRightsAreCountedWhereReceived) {
  RunResult r = run({PROG_RESOURCES, "scm"}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.err;
  Snapshot s = only_snapshot();
  Symbolizer sym;
  sym.add_module(PROG_RESOURCES, s);
  EXPECT_EQ(live(s, sym, "other-fd", "res_recv_site"), 1u);
  EXPECT_EQ(live(s, sym, "file", "res_cloexec_site"), 0u);  // the sender closed its copy
  EXPECT_EQ(total_live(s, "unix"), 2u);                     // the socket pair
  EXPECT_EQ(s.get("untracked-fds"), "0");
}

TEST_F(Resources, PosixTimersLiveUntilDeleted) {
  RunResult r = run({PROG_RESOURCES, "timers"}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.err;
  Snapshot s = only_snapshot();
  Symbolizer sym;
  sym.add_module(PROG_RESOURCES, s);
  EXPECT_EQ(live(s, sym, "timer", "res_timer_site"), 2u);
}

TEST_F(Resources, TrackingOffSaysSoAndWritesNoSection) {
  RunResult r = run({PROG_RESOURCES, "timers"}, dir_, {"LEAKPROBE_RESOURCES=0"});
  ASSERT_TRUE(r.exited_ok()) << r.err;
  Snapshot s = only_snapshot();
  EXPECT_EQ(s.get("resources"), "0");
  EXPECT_TRUE(s.resources.empty());
}

}  // namespace
