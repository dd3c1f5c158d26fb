// Hosts that use up pthread keys: the probe takes one key at most (its one thread-exit
// dispatcher, thread_exit.h), and with none left for it (attached to a host that has taken
// them all) records on without the per-thread walk cache and thread tracking, saying so once.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <string>

#include "harness.h"

using namespace probe_test;

namespace {

class PthreadKeys : public TempDirTest {
 protected:
  PthreadKeys() : TempDirTest("keys") {}
};

// "N" of the line "<word> N" in out; -1 if absent.
long value_of(const std::string& out, const std::string& word) {
  const size_t at = out.find(word + " ");
  return at == std::string::npos ? -1 : std::stol(out.substr(at + word.size() + 1));
}

uint64_t thread_lines(const Snapshot& s, bool created) {
  uint64_t n = 0;
  for (const ResourceLine& r : s.resources)
    if (r.kind == "thread") n += created ? r.created : r.live;
  return n;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

void expect_sites(const Snapshot& s, const std::string& exe) {
  Symbolizer sym;
  sym.add_module(exe, s);
  // 300 threads, one block each at the leak site; the churn freed everything it took.
  EXPECT_EQ(site(s, sym, "keys_leak_site").live_objs, 300);
  EXPECT_EQ(site(s, sym, "keys_churn_site").live_objs, 0);
  EXPECT_EQ(site(s, sym, "keys_churn_site").alloc_objs, 300u * 200u);
}

}  // namespace

TEST_F(PthreadKeys, PreloadedProbeLeavesTheHostAllKeysButOne) {
  RunResult without = run({PROG_KEYS, "preload"}, dir_, {"LD_PRELOAD="});
  ASSERT_TRUE(without.exited_ok()) << without.err;
  ASSERT_TRUE(snapshot_files(dir_).empty());
  RunResult with = run({PROG_KEYS, "preload"}, dir_, {"LEAKPROBE_SAMPLE_BYTES=0"}, 120);
  ASSERT_TRUE(with.exited_ok()) << with.status << with.err;
  const long alone = value_of(without.out, "keys"), probed = value_of(with.out, "keys");
  ASSERT_GT(alone, 0) << without.out;
  EXPECT_GE(probed, alone - 1) << "the probe took " << alone - probed << " pthread keys";
  EXPECT_EQ(value_of(with.out, "threads"), 300) << with.out;
  EXPECT_EQ(with.err.find("pthread key"), std::string::npos) << with.err;

  const auto files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 1u) << with.err;
  Snapshot s = load(files[0]);
  expect_well_formed(s);
  EXPECT_EQ(s.get("trigger"), "exit");
  expect_sites(s, PROG_KEYS);
  // Every thread's exit was seen through the probe's key: created 300, none live.
  EXPECT_EQ(thread_lines(s, true), 300u);
  EXPECT_EQ(thread_lines(s, false), 0u);
}

TEST_F(PthreadKeys, AttachedToAHostWithNoKeyLeftRecordsWithoutThePerThreadCache) {
  RunResult r = run({PROG_KEYS, "attach", PROBE_LIB, dir_}, dir_, {"LD_PRELOAD="}, 120);
  ASSERT_TRUE(r.exited_ok()) << r.status << r.err;
  ASSERT_GT(value_of(r.out, "keys"), 0) << r.out;
  EXPECT_EQ(value_of(r.out, "attach"), 0) << r.out << r.err;
  EXPECT_EQ(value_of(r.out, "threads"), 300) << r.out;
  // Said once, with what it costs.
  EXPECT_EQ(count_of(r.err, "no pthread key left"), 1u) << r.err;
  EXPECT_NE(r.err.find("without the per-thread cache"), std::string::npos) << r.err;

  const auto files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 1u) << r.err;
  Snapshot s = load(files[0]);
  expect_well_formed(s);
  expect_sites(s, PROG_KEYS);
  // No key, no exit to see: threads are not counted at all (rather than never exiting).
  EXPECT_EQ(thread_lines(s, true), 0u);
}

#ifdef LEAKPROBE_CLI
// The same through the path users take: `leakprobe attach PID` (ptrace) into a running host
// that has taken every key, waiting in read().
TEST_F(PthreadKeys, LeakprobeAttachToAHostWithNoKeyLeftKeepsItWorking) {
  Child c({PROG_KEYS, "hold"}, dir_, {"LD_PRELOAD="});
  const std::string keys = c.read_line(20);
  ASSERT_EQ(keys.rfind("keys ", 0), 0u) << keys << c.err();
  const std::string pid = std::to_string(c.pid());
  RunResult check = run({LEAKPROBE_CLI, "attach", "--check", pid}, dir_, {"LD_PRELOAD="});
  if (!check.exited_ok()) GTEST_SKIP() << "leakprobe attach is refused here: " << check.err;
  RunResult attach = run({LEAKPROBE_CLI, "attach", "-o", dir_, pid}, dir_, {"LD_PRELOAD="}, 60);
  ASSERT_TRUE(attach.exited_ok()) << attach.out << attach.err;
  ASSERT_TRUE(c.write_line("go"));
  const int status = c.finish(120);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << c.err();
  EXPECT_NE(c.out().find("threads 300"), std::string::npos) << c.out();
  EXPECT_EQ(count_of(c.err(), "no pthread key left"), 1u) << c.err();
  EXPECT_NE(c.err().find("without the per-thread cache"), std::string::npos) << c.err();

  const auto files = snapshot_files(dir_);
  ASSERT_EQ(files.size(), 1u) << c.err();
  Snapshot s = load(files[0]);
  expect_well_formed(s);
  expect_sites(s, PROG_KEYS);
  EXPECT_EQ(thread_lines(s, true), 0u);
}
#endif
