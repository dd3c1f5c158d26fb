// The in-house unwinder (libleakprobe/src/unwind.cpp) against libunwind, on allocation
// patterns that an unwinder can get wrong: the same leaf reached through different callers,
// alloca/VLA frames, signal handlers on the thread's stack and on a sigaltstack, a
// makecontext coroutine, threads whose first allocation is pthread_getattr_np's own.
// LEAKPROBE_VERIFY_UNWIND=1 takes every stack both ways; the snapshot says how they compared.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "harness.h"

using namespace probe_test;

namespace {

Snapshot run_once(const std::string& dir, const std::string& depth, bool verify) {
  RunResult r = run({PROG_UNWIND}, dir,
                    {std::string("LEAKPROBE_VERIFY_UNWIND=") + (verify ? "1" : "0"),
                     "LEAKPROBE_DEPTH=" + depth, "LEAKPROBE_CONTROL=0", "LEAKPROBE_SIGNAL=0"});
  EXPECT_TRUE(r.exited_ok()) << r.status << "\n" << r.out << r.err;
  std::vector<std::string> files = snapshot_files(dir);
  EXPECT_EQ(files.size(), 1u);
  if (files.empty()) return Snapshot();
  Snapshot s = load(files.back());
  expect_well_formed(s);
  return s;
}

// "stacks=N same=N ..." -> {stacks: N, same: N, ...}
std::map<std::string, uint64_t> pairs(const std::string& value) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(value);
  std::string item;
  while (in >> item) {
    size_t eq = item.find('=');
    if (eq != std::string::npos) out[item.substr(0, eq)] = std::stoull(item.substr(eq + 1));
  }
  return out;
}

class Unwind : public ::testing::TestWithParam<const char*> {};

TEST_P(Unwind, EveryStackIsTheOneLibunwindGives) {
  std::string dir = make_temp_dir("unwind_verify");
  Snapshot s = run_once(dir, GetParam(), true);
  std::map<std::string, uint64_t> v = pairs(s.get("unwind-verify"));
  // Thousands of allocations from hundreds of stacks: an empty comparison proves nothing.
  EXPECT_GT(v["stacks"], 8000u) << s.get("unwind-verify");
  EXPECT_EQ(v["same"], v["stacks"]) << s.get("unwind-verify");
  EXPECT_EQ(v["different"], 0u);
  EXPECT_EQ(v["shorter"], 0u);
  EXPECT_EQ(v["longer"], 0u);
  EXPECT_GT(s.stacks.size(), 100u);
  // The rule cache's own account: walks are flushed per thread every 256, so at least most of
  // the compared stacks show; hits dominate, and every rule compiled is a miss.
  std::map<std::string, uint64_t> c = pairs(s.get("unwind-cache"));
  EXPECT_GT(c["walks"], v["stacks"] / 2) << s.get("unwind-cache");
  EXPECT_LE(c["walks"], v["stacks"] + 2000) << s.get("unwind-cache");
  EXPECT_GT(c["rule_misses"], 0u) << s.get("unwind-cache");
  EXPECT_GT(c["rule_hits"], 10 * c["rule_misses"]) << s.get("unwind-cache");
  if (!HasFailure()) remove_tree(dir);
}

// Depth 32 is the default (deep recursion gets truncated); 128 keeps whole stacks.
INSTANTIATE_TEST_SUITE_P(Depths, Unwind, ::testing::Values("32", "128", "4"));

// On an alternate signal stack and on a makecontext stack the stacks must still be whole:
// every allocation there is attributed through the handler / coroutine body.
TEST(UnwindForeignStacks, SigaltstackAndMakecontextStacksAreWhole) {
  std::string dir = make_temp_dir("unwind_foreign");
  Snapshot s = run_once(dir, "128", false);
  EXPECT_TRUE(s.get("unwind-verify").empty()) << "verification is off by default";
  Symbolizer sym;
  sym.add_module(PROG_UNWIND, s);
  auto through = [&](const std::string& fn) {
    uint64_t objs = 0;
    for (const StackLine& line : s.stacks)
      for (uint64_t f : line.frames)
        if (sym.name_at(f).find(fn) != std::string::npos) {
          objs += line.alloc_objs;
          break;
        }
    return objs;
  };
  // 4 reps x 6 depths, two allocations per SIGUSR1 and one per SIGUSR2, 24 coroutine runs;
  // the signal handlers' stacks go on through the signal frame into the interrupted code.
  EXPECT_EQ(through("alt_handler"), 48u);
  EXPECT_EQ(through("plain_handler"), 24u);
  EXPECT_EQ(through("coroutine_body"), 24u);
  EXPECT_EQ(through("signals"), 72u);
  if (!HasFailure()) remove_tree(dir);
}

}  // namespace
