// The probe installed dormant (LEAKPROBE_ENABLED=0) and switched at run time over the control
// socket, as `leakprobe enable|disable PID` does: nothing recorded before enabling, growth
// from then on after it, frees of blocks the probe never saw handled without harm, and no
// files from a probe that never recorded.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <string>

#include "harness.h"

using namespace probe_test;

namespace {

class Dormant : public TempDirTest {
 protected:
  Dormant() : TempDirTest("dormant") {}
};

// Sends a command to switch_program and waits for its "done" line.
void command(Child& c, const std::string& cmd) {
  ASSERT_TRUE(c.write_line(cmd)) << cmd;
  ASSERT_EQ(c.read_line(20), "done " + cmd) << c.err();
}

Snapshot snapshot_now(Child& c) {
  const std::string reply = control_request(c.pid(), "snapshot\n");
  EXPECT_EQ(reply.rfind("ok /", 0), 0u) << reply;
  Snapshot s = load(reply.substr(3, reply.size() - 4));
  expect_well_formed(s);
  return s;
}

Counts at(const Snapshot& s, const char* fn) {
  Symbolizer sym;
  sym.add_module(PROG_SWITCH, s);
  return site(s, sym, fn);
}

}  // namespace

TEST_F(Dormant, EnableAndDisableAtRunTime) {
  Child c({PROG_SWITCH}, dir_, {"LEAKPROBE_ENABLED=0"});
  ASSERT_EQ(c.read_line(20), "ready " + std::to_string(c.pid()));
  EXPECT_EQ(control_request(c.pid(), "status\n"), "ok dormant exact kept=- signal=41\n");

  command(c, "a");  // dormant: never known to the probe
  Snapshot s0 = snapshot_now(c);
  EXPECT_EQ(at(s0, "site_switch_a_71003").lines, 0);

  EXPECT_EQ(control_request(c.pid(), "enable\n"), "ok recording off\n");
  EXPECT_EQ(control_request(c.pid(), "status\n"), "ok recording exact kept=- signal=41\n");
  EXPECT_EQ(control_request(c.pid(), "enable\n"), "ok recording on\n") << "idempotent";
  command(c, "b");
  command(c, "fa");  // blocks from before enabling: the pointer map does not know them
  Snapshot s1 = snapshot_now(c);
  EXPECT_EQ(at(s1, "site_switch_b_71011").live_objs, 5);
  EXPECT_EQ(at(s1, "site_switch_b_71011").live_bytes, 5 * 71011);
  EXPECT_EQ(at(s1, "site_switch_a_71003").lines, 0) << "no trace of the dormant blocks";

  EXPECT_EQ(control_request(c.pid(), "disable\n"), "ok dormant on\n");
  EXPECT_EQ(control_request(c.pid(), "status\n"), "ok dormant exact kept=- signal=41\n");
  command(c, "b");  // not recorded
  Snapshot s2 = snapshot_now(c);
  EXPECT_EQ(at(s2, "site_switch_b_71011").live_objs, 5) << "what was recorded stays";
  command(c, "fb");  // 5 recorded (removed while disabled) + 5 never seen
  Snapshot s3 = snapshot_now(c);
  EXPECT_EQ(at(s3, "site_switch_b_71011").live_objs, 0);
  EXPECT_EQ(at(s3, "site_switch_b_71011").live_bytes, 0);

  EXPECT_EQ(control_request(c.pid(), "enable\n"), "ok recording off\n");
  command(c, "a");
  Snapshot s4 = snapshot_now(c);
  EXPECT_EQ(at(s4, "site_switch_a_71003").live_objs, 5) << "growth since the second enable";
  EXPECT_EQ(at(s4, "site_switch_b_71011").live_objs, 0);

  const int status = c.finish(30);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << c.err();
  EXPECT_EQ(snapshot_files(dir_).size(), 6u) << "five requests and the exit snapshot";
}

TEST_F(Dormant, SampledProbeSwitchesToo) {
  Child c({PROG_SWITCH}, dir_, {"LEAKPROBE_ENABLED=0", "LEAKPROBE_SAMPLE_BYTES=4096"});
  ASSERT_EQ(c.read_line(20), "ready " + std::to_string(c.pid()));
  EXPECT_EQ(control_request(c.pid(), "status\n"), "ok dormant sampled=4096 kept=- signal=41\n");
  command(c, "a");
  EXPECT_EQ(control_request(c.pid(), "enable\n"), "ok recording off\n");
  command(c, "b");
  command(c, "fa");
  // 71011-byte blocks at a 4 KiB mean are sampled with p > 0.99999999.
  Snapshot s = snapshot_now(c);
  EXPECT_EQ(at(s, "site_switch_b_71011").live_objs, 5);
  EXPECT_EQ(at(s, "site_switch_a_71003").lines, 0);
  const int status = c.finish(30);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << c.err();
}

TEST_F(Dormant, NeverEnabledWritesNoFilesButAnswers) {
  Child c({PROG_SWITCH}, dir_, {"LEAKPROBE_ENABLED=0", "LEAKPROBE_INTERVAL=1"});
  ASSERT_EQ(c.read_line(20), "ready " + std::to_string(c.pid()));
  command(c, "a");
  EXPECT_EQ(control_request(c.pid(), "bogus\n").rfind("error unknown request", 0), 0u);
  EXPECT_EQ(control_request(c.pid(), "status\n"), "ok dormant exact kept=0/100 signal=41\n");
  sleep(2);  // two interval ticks: nothing was ever recorded, so nothing is written
  const int status = c.finish(30);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << c.err();
  EXPECT_TRUE(all_files(dir_).empty()) << "no interval and no exit snapshot";
}
