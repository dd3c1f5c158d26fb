// The probe's snapshot signal (SIGRTMIN+7) in a host that uses it too: the host must win,
// get every delivery on its own threads, and see the dispositions it would see without the
// probe. Regression tests for the probe's writer thread taking the host's deliveries.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "harness.h"

using namespace probe_test;

namespace {

class SignalHost : public TempDirTest {
 protected:
  SignalHost() : TempDirTest("sighost") {}
};

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

void expect_host_owns_signal(const RunResult& r, const std::string& dir) {
  ASSERT_TRUE(r.exited_ok()) << r.status << "\n" << r.out << r.err;
  EXPECT_EQ(r.out,
            "before: default\ninstalled: ours\n"
            "handled 50 of 50, on the host's receiver thread 50\n");
  EXPECT_EQ(count(r.err, "installed its own handler for signal"), 1u) << r.err;
  auto files = snapshot_files(dir);
  ASSERT_EQ(files.size(), 1u);
  Snapshot s = load(files[0]);
  expect_well_formed(s);
  EXPECT_EQ(s.get("trigger"), "exit");
}

}  // namespace

TEST_F(SignalHost, HostSigactionGetsEveryDeliveryOnItsOwnThread) {
  expect_host_owns_signal(run({PROG_SIGHOST, "sigaction"}, dir_), dir_);
}

TEST_F(SignalHost, HostSignalGetsEveryDeliveryOnItsOwnThread) {
  expect_host_owns_signal(run({PROG_SIGHOST, "signal"}, dir_), dir_);
}

TEST_F(SignalHost, InheritedIgnoredSignalStaysIgnored) {
  // SIG_IGN survives exec: the probe must not turn it into a handler (which exec would
  // reset to the fatal default in the host's own children).
  struct sigaction ign {
  }, saved{};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGRTMIN + 7, &ign, &saved), 0);
  RunResult r = run({PROG_SIGHOST, "query"}, dir_);
  sigaction(SIGRTMIN + 7, &saved, nullptr);
  ASSERT_TRUE(r.exited_ok()) << r.status << r.err;
  EXPECT_EQ(r.out, "before: ignored\n");
  EXPECT_EQ(count(r.err, "is ignored by this program; the signal trigger is off"), 1u) << r.err;
}

TEST_F(SignalHost, ResettingToDefaultKeepsTheTrigger) {
  // git's children and many daemons reset every signal to SIG_DFL. The host already sees
  // SIG_DFL, so nothing changes for it, and the probe keeps its trigger.
  Child c({PROG_SIGHOST, "reset"}, dir_);
  ASSERT_EQ(c.read_line(20), "before: default");
  ASSERT_EQ(c.read_line(20), "old: default");
  ASSERT_EQ(c.read_line(20), "ready");
  ASSERT_EQ(kill(c.pid(), SIGRTMIN + 7), 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (snapshot_files(dir_).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int status = c.finish(30);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << c.err();
  EXPECT_EQ(c.err().find("trigger is off"), std::string::npos) << c.err();
  auto files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 2u) << "signal, exit";
  EXPECT_EQ(load(files[0]).get("trigger"), "signal");
  EXPECT_EQ(load(files[1]).get("trigger"), "exit");
}

TEST_F(SignalHost, ProbeNeverWritesIntoADescriptor2TheHostReused) {
  // The host closes stderr and its next open() gets descriptor 2 for a data file; the
  // probe's "installed its own handler" line must not land in that file.
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  RunResult r = run({PROG_SIGHOST, "stderr-file"}, dir_);
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_TRUE(r.exited_ok()) << r.status << r.err;
  EXPECT_EQ(r.out, "before: default\nhost data\n");
}

TEST_F(SignalHost, HostWaitingWithSigtimedwaitGetsEverySignal) {
  // No handler of its own: the host blocks the signal and takes it with sigtimedwait(). A
  // probe thread that accepted the signal would take it first and the host would wait in
  // vain; the probe's writer never accepts any signal.
  RunResult r = run({PROG_SIGHOST, "sigwait"}, dir_);
  ASSERT_TRUE(r.exited_ok()) << r.status << r.out << r.err;
  EXPECT_EQ(r.out, "before: default\nwaited for 20 of 20\n");
}

TEST(ExitPaths, VforkChildCallingExitLeavesTheParentsProbeWorking) {
  // Not a signal matter, but the same family: a host doing something careless in a context
  // the probe shares with it. The vfork child's exit() runs our atexit handler in the
  // parent's memory; before the fix it kept the parent's snapshot lock for good, and every
  // later snapshot of the parent waited forever.
  std::string dir = make_temp_dir("vforkexit");
  RunResult r = run({PROG_VFORK_EXIT}, dir);
  ASSERT_TRUE(r.exited_ok()) << r.status << r.out << r.err;
  EXPECT_EQ(r.out, "child 3\nrequest ok\n");
  auto files = snapshot_files(dir);
  ASSERT_EQ(files.size(), 2u) << "the exit snapshot the child wrote, then the request";
  EXPECT_EQ(load(files[0]).get("trigger"), "exit");
  EXPECT_EQ(load(files[1]).get("trigger"), "request");
  for (const auto& f : files) expect_well_formed(load(f));
  if (!::testing::Test::HasFailure()) remove_tree(dir);
}

TEST(ExitPaths, HostThatDropsRootIsToldWhySnapshotsFail) {
  // mosquitto started as root switches to its own user; the snapshot directory the probe
  // made (root's, 0700) is then closed to it. The host is unaffected, and the one failure
  // line comes with the reason and what to do.
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  std::string dir = make_temp_dir("dropuser");
  RunResult r =
      run({"/usr/bin/python3", "-c", "import os; os.setuid(65534); print('dropped')"}, dir);
  ASSERT_TRUE(r.exited_ok()) << r.status << r.err;
  EXPECT_EQ(r.out, "dropped\n");
  EXPECT_EQ(count(r.err, "Permission denied"), 1u) << r.err;
  EXPECT_EQ(count(r.err, "changed its user to uid 65534 after start"), 1u) << r.err;
  EXPECT_TRUE(snapshot_files(dir).empty());
  if (!::testing::Test::HasFailure()) remove_tree(dir);
}
