// LEAKPROBE_STACK_CACHE: the per-thread cache of validated unwinds must never change a
// snapshot. The same deterministic program runs with the cache off and on; the exit
// snapshots must hold exactly the same stacks (as module + offset, so address-space layout
// randomisation does not matter) with the same counts.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>

#include "harness.h"

using namespace probe_test;

namespace {

using Totals = std::tuple<int64_t, int64_t, uint64_t, uint64_t>;

// "module+0xoffset;..." for each stack line, leaf first; counts summed per key.
std::map<std::string, Totals> by_stack(const Snapshot& s) {
  std::map<std::string, Totals> out;
  for (const StackLine& line : s.stacks) {
    std::string key;
    for (uint64_t f : line.frames) {
      const Mapping* m = nullptr;
      for (const Mapping& map : s.maps)
        if (f >= map.start && f < map.end) m = &map;
      char buf[64];
      snprintf(buf, sizeof buf, "+0x%llx;",
               static_cast<unsigned long long>(m ? f - m->start + m->offset : f));
      key += (m ? m->path : std::string("?")) + buf;
    }
    Totals& t = out[key];
    std::get<0>(t) += line.live_objs;
    std::get<1>(t) += line.live_bytes;
    std::get<2>(t) += line.alloc_objs;
    std::get<3>(t) += line.alloc_bytes;
  }
  return out;
}

Snapshot run_once(const std::string& dir, const std::string& cache, const std::string& depth) {
  RunResult r = run({PROG_STACKCACHE}, dir,
                    {"LEAKPROBE_STACK_CACHE=" + cache, "LEAKPROBE_DEPTH=" + depth,
                     "LEAKPROBE_CONTROL=0", "LEAKPROBE_SIGNAL=0"});
  EXPECT_TRUE(r.exited_ok()) << r.status << "\n" << r.out << r.err;
  std::vector<std::string> files = snapshot_files(dir);
  EXPECT_EQ(files.size(), 1u);
  if (files.empty()) return Snapshot();
  Snapshot s = load(files.back());
  expect_well_formed(s);
  return s;
}

class StackCache : public ::testing::TestWithParam<const char*> {};

TEST_P(StackCache, SameStacksAndCountsWithAndWithoutCache) {
  std::string off_dir = make_temp_dir("stackcache_off");
  std::string on_dir = make_temp_dir("stackcache_on");
  Snapshot off = run_once(off_dir, "0", GetParam());
  Snapshot on = run_once(on_dir, "1", GetParam());
  std::map<std::string, Totals> a = by_stack(off);
  std::map<std::string, Totals> b = by_stack(on);
  // The program allocates from hundreds of distinct stacks; an empty result proves nothing.
  EXPECT_GT(a.size(), 100u);
  EXPECT_EQ(off.alloc_objs, on.alloc_objs);
  EXPECT_EQ(off.live_objs, on.live_objs);
  EXPECT_EQ(a.size(), b.size());
  for (const auto& [key, t] : a) {
    auto it = b.find(key);
    if (it == b.end()) {
      ADD_FAILURE() << "only without the cache: " << key;
      continue;
    }
    EXPECT_EQ(t, it->second) << key;
  }
  for (const auto& [key, t] : b)
    if (!a.count(key)) ADD_FAILURE() << "only with the cache: " << key;
  if (!HasFailure()) {
    remove_tree(off_dir);
    remove_tree(on_dir);
  }
}

// Depth 32 is the default (deep recursion gets truncated); 128 keeps whole stacks.
INSTANTIATE_TEST_SUITE_P(Depths, StackCache, ::testing::Values("32", "128", "4"));

// On an alternate signal stack and on a makecontext stack the stacks must still be the
// real ones: every allocation there is attributed through the handler / coroutine body.
TEST(StackCacheForeignStacks, SigaltstackAndMakecontextStacksAreExact) {
  std::string dir = make_temp_dir("stackcache_foreign");
  Snapshot s = run_once(dir, "1", "128");
  Symbolizer sym;
  sym.add_module(PROG_STACKCACHE, s);
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
  // 4 reps x 6 depths, two allocations per SIGUSR1 and one per SIGUSR2, 24 coroutine runs.
  EXPECT_EQ(through("alt_handler"), 48u);
  EXPECT_EQ(through("plain_handler"), 24u);
  EXPECT_EQ(through("coroutine_body"), 24u);
  if (!HasFailure()) remove_tree(dir);
}

}  // namespace
