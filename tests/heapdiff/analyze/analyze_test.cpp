// Diff arithmetic, normalisation, folding, grouping and filters, on in-memory snapshots with
// a fake symbol source (so function names are exact and no ELF file is needed).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/compat.h"
#include "leakprobe/analysis/report.h"
#include "test_snapshots.h"

namespace leakprobe::analysis {
namespace {

using testing::leakprobe_text;
using testing::Line;
using testing::must_parse;

constexpr uint64_t kBaseA = 0x555500000000;  // first run
constexpr uint64_t kBaseB = 0x5633aa000000;  // second run: ASLR moved the executable

// Fake symbols by file offset of the call (pc): offset X in the app is the return address
// base + X + 1 (see test_snapshots.h).
struct FakeSymbols {
  std::map<uint64_t, std::vector<symbolize::Frame>> app;
  std::vector<std::pair<std::string, uint64_t>> calls;
  SymbolSource source() {
    return [this](const symbolize::ModuleRef& m, uint64_t off) {
      calls.emplace_back(m.path, off);
      if (m.path != "/opt/t/app") return std::vector<symbolize::Frame>{};
      auto it = app.find(off);
      return it == app.end() ? std::vector<symbolize::Frame>{} : it->second;
    };
  }
};

symbolize::Frame fn(const std::string& name, const std::string& file = "", int line = 0,
                    bool inlined = false) {
  return symbolize::Frame{name, file, line, inlined};
}

Analysis run(const std::vector<const Snapshot*>& snaps, const SymbolSource& syms = {},
             Options opts = {}) {
  Result<Analysis> r = analyze(snaps, syms, opts);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return std::move(r).value();
}

TEST(Diff, MatchesFramesByModuleAndOffsetAcrossAslr) {
  const Snapshot a =
      must_parse(leakprobe_text({{2, 200, 2, 200, {kBaseA + 0x1235, kBaseA + 0x2001}}}, kBaseA,
                                "/opt/t/app", 1),
                 "a.heap");
  const Snapshot b =
      must_parse(leakprobe_text({{5, 500, 9, 900, {kBaseB + 0x1235, kBaseB + 0x2001}}}, kBaseB,
                                "/opt/t/app", 2),
                 "b.heap");
  Options two_runs;  // two runs of one program: two processes
  two_runs.allow_different_processes = true;
  const Analysis r = run({&a, &b}, {}, two_runs);
  EXPECT_EQ(r.stacks_total, 1u);  // one stack, not two
  ASSERT_EQ(r.entries.size(), 1u);
  const Entry& e = r.entries[0];
  EXPECT_EQ(e.delta(), (Counts{3, 300, 7, 700}));
  EXPECT_EQ(e.site.module, "/opt/t/app");
  EXPECT_EQ(e.site.offset, 0x1234u);  // pc = return address - 1, as a file offset
  EXPECT_EQ(e.key.text(), "app+0x1234");
  ASSERT_EQ(e.frames.size(), 2u);
  EXPECT_EQ(e.frames[1].offset, 0x2000u);
}

// Pid 1 of two containers writing one directory: the headers' pid namespaces tell them apart.
TEST(Diff, OnePidInTwoPidNamespacesIsTwoProcesses) {
  const std::vector<Line> lines = {{2, 200, 2, 200, {kBaseA + 0x1235}}};
  const Snapshot a = must_parse(
      leakprobe_text(lines, kBaseA, "/opt/t/app", 1, "# leakprobe.pid-namespace: 4026531836\n"),
      "a.heap");
  const Snapshot same = must_parse(
      leakprobe_text(lines, kBaseA, "/opt/t/app", 1, "# leakprobe.pid-namespace: 4026531836\n"),
      "same.heap");
  const Snapshot other = must_parse(
      leakprobe_text(lines, kBaseA, "/opt/t/app", 1, "# leakprobe.pid-namespace: 4026532999\n"),
      "other.heap");
  ASSERT_TRUE(a.pid_namespace);
  EXPECT_EQ(*a.pid_namespace, 4026531836);
  EXPECT_TRUE(run({&a, &same}).same_process);
  const Result<Analysis> refused = analyze({&a, &other}, {}, Options{});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("different processes (one pid in two pid namespaces, "
                                         "4026531836 and 4026532999)"),
            std::string::npos)
      << refused.error().message;
  Options allow;
  allow.allow_different_processes = true;
  EXPECT_FALSE(run({&a, &other}, {}, allow).same_process);
}

TEST(Diff, ComputesDeltasFreesTotalsAndGrowth) {
  const uint64_t a1 = kBaseA + 0x1101, a2 = kBaseA + 0x1201, a3 = kBaseA + 0x1301,
                 a4 = kBaseA + 0x1401;
  const Snapshot before = must_parse(
      leakprobe_text({{10, 1000, 10, 1000, {a1}}, {4, 400, 20, 2000, {a2}}, {3, 30, 3, 30, {a3}}}),
      "before.heap");
  const Snapshot after = must_parse(
      leakprobe_text(
          {{25, 2500, 30, 3000, {a1}}, {1, 100, 40, 4000, {a2}}, {6, 600, 6, 600, {a4}}}),
      "after.heap");
  const Analysis r = run({&before, &after});
  ASSERT_EQ(r.entries.size(), 4u);
  // Ranked by Δ live bytes: a1 +1500, a4 +600 (only in the new file), a3 -30 (only in the
  // old file: counts as zero now), a2 -300.
  EXPECT_EQ(r.entries[0].site.offset, 0x1100u);
  EXPECT_EQ(r.entries[0].delta(), (Counts{15, 1500, 20, 2000}));
  const Counts frees0 = r.entries[0].delta();
  EXPECT_EQ(frees0.alloc_objs - frees0.live_objs, 5);  // freed in between
  EXPECT_EQ(r.entries[1].site.offset, 0x1400u);
  EXPECT_EQ(r.entries[1].delta(), (Counts{6, 600, 6, 600}));
  EXPECT_EQ(r.entries[2].site.offset, 0x1300u);
  EXPECT_EQ(r.entries[2].delta(), (Counts{-3, -30, -3, -30}));
  EXPECT_EQ(r.entries[3].site.offset, 0x1200u);
  EXPECT_EQ(r.entries[3].delta(), (Counts{-3, -300, 20, 2000}));
  EXPECT_EQ(r.totals[0], (Counts{17, 1430, 33, 3030}));
  EXPECT_EQ(r.totals[1], (Counts{32, 3200, 76, 7600}));
  EXPECT_EQ(r.growth_bytes, 2100);
  EXPECT_EQ(r.growth_objs, 21);
  EXPECT_EQ(r.changed, 4u);
  EXPECT_TRUE(growth_exceeds(r, 2099));
  EXPECT_FALSE(growth_exceeds(r, 2100));
}

TEST(Diff, SortByObjectsAndTop) {
  const uint64_t a1 = kBaseA + 0x1101, a2 = kBaseA + 0x1201, a3 = kBaseA + 0x1301;
  const Snapshot before = must_parse(leakprobe_text({}));
  const Snapshot after = must_parse(leakprobe_text(
      {{1, 5000, 1, 5000, {a1}}, {50, 500, 50, 500, {a2}}, {10, 1000, 10, 1000, {a3}}}));
  Options opts;
  opts.sort = SortKey::kObjects;
  opts.top = 2;
  const Analysis r = run({&before, &after}, {}, opts);
  EXPECT_EQ(r.changed, 3u);
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].site.offset, 0x1200u);
  EXPECT_EQ(r.entries[1].site.offset, 0x1300u);
  opts.sort = SortKey::kBytes;
  const Analysis r2 = run({&before, &after}, {}, opts);
  EXPECT_EQ(r2.entries[0].site.offset, 0x1100u);
}

TEST(Diff, UnchangedStacksAreNotListedAndNoGrowthIsSaid) {
  const Snapshot s = must_parse(leakprobe_text({{1, 8, 3, 24, {kBaseA + 0x1101}}}), "same.heap");
  const Snapshot churn =
      must_parse(leakprobe_text({{1, 8, 9, 72, {kBaseA + 0x1101}}}), "churn.heap");
  const Analysis r = run({&s, &churn});
  EXPECT_TRUE(r.entries.empty());
  EXPECT_EQ(r.changed, 0u);
  EXPECT_EQ((r.totals[1] - r.totals[0]).alloc_objs, 6);  // the churn still shows in totals
  std::ostringstream text;
  write_text_report(text, r, ReportContext{});
  EXPECT_NE(text.str().find("no growth: no call stack changed its live memory between same.heap "
                            "and churn.heap (1 stacks compared)"),
            std::string::npos)
      << text.str();
  std::ostringstream json;
  write_json_report(json, r, ReportContext{});
  EXPECT_NE(json.str().find("\"no_growth\": true"), std::string::npos);
}

TEST(Diff, MinBytesHidesSmallChanges) {
  const Snapshot before = must_parse(leakprobe_text({}));
  const Snapshot after = must_parse(
      leakprobe_text({{1, 4096, 1, 4096, {kBaseA + 0x1101}}, {1, 100, 1, 100, {kBaseA + 0x1201}}}));
  Options opts;
  opts.min_bytes = 1024;
  const Analysis r = run({&before, &after}, {}, opts);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].site.offset, 0x1100u);
  EXPECT_EQ(r.growth_bytes, 4196);  // the gate still counts everything that grew
}

TEST(Diff, UnknownFramesKeepTheRawAddress) {
  const Snapshot before = must_parse(leakprobe_text({}));
  const Snapshot after = must_parse(leakprobe_text({{1, 8, 1, 8, {0x1235, kBaseA + 0x1101}}}));
  const Analysis r = run({&before, &after});
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].site.module, "[unknown]");
  EXPECT_EQ(r.entries[0].key.text(), "[unknown]+0x1234");
}

TEST(Fold, AllocatorFramesAndInlinedAllocatorLayersAreFoldedAway) {
  FakeSymbols syms;
  syms.app[0x1100] = {fn("malloc")};
  syms.app[0x1200] = {fn("operator new(unsigned long)")};
  // One call instruction, three source frames: allocator layers inlined into user code.
  syms.app[0x1300] = {fn("std::__new_allocator<int>::allocate(unsigned long, void const*)",
                         "/usr/include/c++/12/bits/new_allocator.h", 137, true),
                      fn("std::allocator_traits<std::allocator<int> "
                         ">::allocate(std::allocator<int>&, unsigned long)",
                         "/usr/include/c++/12/bits/alloc_traits.h", 464, true),
                      fn("Session::add_topic(std::string const&)", "src/session.cpp", 42, false)};
  syms.app[0x1400] = {fn("main", "src/main.cpp", 7)};
  const Snapshot before = must_parse(leakprobe_text({}));
  const Snapshot after = must_parse(leakprobe_text(
      {{1, 64, 1, 64, {kBaseA + 0x1101, kBaseA + 0x1201, kBaseA + 0x1301, kBaseA + 0x1401}}}));
  const Analysis r = run({&before, &after}, syms.source());
  ASSERT_EQ(r.entries.size(), 1u);
  const Entry& e = r.entries[0];
  EXPECT_EQ(e.folded, 4u);
  EXPECT_EQ(e.site.function, "Session::add_topic(std::string const&)");
  EXPECT_EQ(e.site.file, "src/session.cpp");
  EXPECT_EQ(e.site.line, 42);
  EXPECT_EQ(e.site.offset, 0x1300u);
  ASSERT_EQ(e.frames.size(), 2u);
  EXPECT_EQ(e.frames[1].function, "main");
  EXPECT_EQ(e.key.text(), "Session::add_topic(std::string const&) src/session.cpp:42");
  // The symbolizer was asked for file offsets of pc = return address - 1.
  EXPECT_NE(std::find(syms.calls.begin(), syms.calls.end(),
                      std::make_pair(std::string("/opt/t/app"), uint64_t{0x1100})),
            syms.calls.end());
}

TEST(Fold, AllocatorModulesAreFoldedWithoutSymbols) {
  const Snapshot before = must_parse(leakprobe_text({}));
  // 0x7f0000000000.. is /opt/t/libtcmalloc.so.4 in leakprobe_text's maps.
  const Snapshot after = must_parse(
      leakprobe_text({{1, 64, 1, 64, {0x7f0000000101, 0x7f0000000201, kBaseA + 0x1501}}}));
  const Analysis r = run({&before, &after});
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].folded, 2u);
  EXPECT_EQ(r.entries[0].site.offset, 0x1500u);
}

TEST(Fold, AStackMadeOnlyOfAllocatorFramesIsKeptWhole) {
  FakeSymbols syms;
  syms.app[0x1100] = {fn("malloc")};
  const Snapshot before = must_parse(leakprobe_text({}));
  const Snapshot after = must_parse(leakprobe_text({{1, 64, 1, 64, {kBaseA + 0x1101}}}));
  const Analysis r = run({&before, &after}, syms.source());
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].folded, 0u);
  EXPECT_EQ(r.entries[0].site.function, "malloc");
}

TEST(Fold, KnowsTheAllocatorFamily) {
  for (const char* f : {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc",
                        "__GI___strdup", "strndup", "operator new[](unsigned long)",
                        "operator new(unsigned long, std::nothrow_t const&)",
                        "__gnu_cxx::new_allocator<char>::allocate(unsigned long, void const*)",
                        "tc_malloc", "tcmalloc::allocate_full_malloc_oom(unsigned long)",
                        "mosquitto__malloc", "mosquitto__strdup", "mosquitto_calloc"}) {
    EXPECT_TRUE(is_allocator_function(f)) << f;
  }
  for (const char* f :
       {"main", "mallocz_helper", "handle__subscribe", "std::vector<int>::push_back(int const&)",
        "mosquitto__free_helper", "tc_parse_config", "leakprobe::analysis::analyze", ""}) {
    EXPECT_FALSE(is_allocator_function(f)) << f;
  }
  EXPECT_TRUE(is_allocator_module("/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4.5.10"));
  EXPECT_TRUE(is_allocator_module("/work/build/libleakprobe/libleakprobe.so"));
  EXPECT_FALSE(is_allocator_module("/usr/lib/x86_64-linux-gnu/libc.so.6"));
}

// Two stacks allocate from the same function on different lines.
struct GroupingFixture : ::testing::Test {
  FakeSymbols syms;
  Snapshot before = must_parse(leakprobe_text({}));
  Snapshot after;
  void SetUp() override {
    syms.app[0x1100] = {fn("add_client", "broker.c", 10)};
    syms.app[0x1200] = {fn("add_client", "broker.c", 20)};
    syms.app[0x1300] = {fn("add_topic", "topics.c", 5)};
    syms.app[0x1900] = {fn("loop_a", "loop.c", 1)};
    syms.app[0x1a00] = {fn("loop_b", "loop.c", 2)};
    after = must_parse(leakprobe_text({{1, 100, 1, 100, {kBaseA + 0x1101, kBaseA + 0x1901}},
                                       {2, 200, 2, 200, {kBaseA + 0x1101, kBaseA + 0x1a01}},
                                       {4, 400, 4, 400, {kBaseA + 0x1201, kBaseA + 0x1901}},
                                       {8, 350, 8, 350, {kBaseA + 0x1301, kBaseA + 0x1901}}}));
  }
};

TEST_F(GroupingFixture, ByStackKeepsEveryStack) {
  const Analysis r = run({&before, &after}, syms.source());
  EXPECT_EQ(r.entries.size(), 4u);
}

TEST_F(GroupingFixture, ByFunctionMergesSitesOfOneFunction) {
  Options opts;
  opts.by = GroupBy::kFunction;
  const Analysis r = run({&before, &after}, syms.source(), opts);
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].key.text(), "add_client");
  EXPECT_EQ(r.entries[0].stacks, 3u);
  EXPECT_EQ(r.entries[0].delta().live_bytes, 700);
  // The representative stack is the one that grew most.
  EXPECT_EQ(r.entries[0].site.line, 20);
  EXPECT_EQ(r.entries[1].key.text(), "add_topic");
}

TEST_F(GroupingFixture, ByLineSeparatesLines) {
  Options opts;
  opts.by = GroupBy::kLine;
  const Analysis r = run({&before, &after}, syms.source(), opts);
  ASSERT_EQ(r.entries.size(), 3u);
  EXPECT_EQ(r.entries[0].key.text(), "add_client broker.c:20");
  EXPECT_EQ(r.entries[1].key.text(), "add_topic topics.c:5");
  EXPECT_EQ(r.entries[2].key.text(), "add_client broker.c:10");
  EXPECT_EQ(r.entries[2].stacks, 2u);
  EXPECT_EQ(r.entries[2].delta().live_bytes, 300);
}

TEST_F(GroupingFixture, FocusAndIgnoreFilterWholeStacks) {
  Options opts;
  opts.focus = "loop_b";
  Analysis r = run({&before, &after}, syms.source(), opts);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].delta().live_bytes, 200);
  EXPECT_EQ(r.stacks_filtered_out, 3u);
  EXPECT_EQ(r.growth_bytes, 200);  // totals and the gate follow the filters

  opts.focus = "";
  opts.ignore = "topics\\.c|loop_b";
  r = run({&before, &after}, syms.source(), opts);
  EXPECT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.totals[1].live_bytes, 500);

  opts.ignore = "app\\+0x1a00";  // so do module+offset, for use without symbols
  r = run({&before, &after}, {}, opts);
  EXPECT_EQ(r.entries.size(), 3u);

  opts.ignore = "/opt/t/app";  // module paths match too
  r = run({&before, &after}, syms.source(), opts);
  EXPECT_TRUE(r.entries.empty());
}

TEST(Filters, BadRegexIsAnError) {
  const Snapshot s = must_parse(leakprobe_text({}));
  Options opts;
  opts.focus = "([unclosed";
  Result<Analysis> r = analyze({&s, &s}, {}, opts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("invalid --focus regular expression '([unclosed': ", 0), 0u)
      << r.error().message;
}

TEST(Trend, ClassifiesAndRanksSuspectsFirst) {
  const uint64_t grow = kBaseA + 0x1101, plat = kBaseA + 0x1201, noisy = kBaseA + 0x1301;
  std::vector<Snapshot> snaps;
  const int64_t g[] = {100, 200, 300, 400}, p[] = {0, 5000, 9000, 9000}, n[] = {800, 100, 900, 50};
  for (int i = 0; i < 4; ++i) {
    snaps.push_back(must_parse(leakprobe_text({{1, g[i], 1, g[i], {grow}},
                                               {1 + p[i], p[i] + 1, 1 + p[i], p[i] + 1, {plat}},
                                               {1, n[i], 1, n[i], {noisy}}})));
  }
  const Analysis r = run({&snaps[0], &snaps[1], &snaps[2], &snaps[3]});
  ASSERT_TRUE(r.trend_mode);
  ASSERT_EQ(r.entries.size(), 3u);
  // The plateau grew far more, but the steady grower is the leak suspect.
  EXPECT_EQ(r.entries[0].site.offset, 0x1100u);
  EXPECT_EQ(r.entries[0].trend, Trend::kGrowing);
  EXPECT_EQ(r.entries[1].trend, Trend::kPlateau);
  EXPECT_EQ(r.entries[2].trend, Trend::kNoise);
  ASSERT_EQ(r.entries[0].series.size(), 4u);
  EXPECT_EQ(r.entries[0].series[2].live_bytes, 300);
}

Snapshot with_meta(const std::string& exe, const std::string& meta, const std::string& name) {
  return must_parse(leakprobe_text({}, kBaseA, exe, 1, meta), name);
}

TEST(Compat, RefusesDifferentProgramsAndSamplingRates) {
  const Snapshot a = with_meta("/usr/sbin/mosquitto", "", "a.heap");
  const Snapshot b = with_meta("/usr/bin/other", "", "b.heap");
  auto e = check_compatible({&a, &b});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message,
            "a.heap and b.heap are snapshots of different programs "
            "(/usr/sbin/mosquitto vs /usr/bin/other)");

  std::string sampled = leakprobe_text({}, kBaseA, "/usr/sbin/mosquitto");
  sampled.replace(sampled.find("@ heapprofile"), 13, "@ heap_v2/4096");
  const Snapshot c = must_parse(sampled, "c.heap");
  e = check_compatible({&a, &c});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message,
            "a.heap and c.heap use different sampling rates (exact (heapprofile) vs "
            "sampled every 4096 bytes (heap_v2/4096)); their numbers cannot be "
            "compared");
  EXPECT_FALSE(check_compatible({&a, &a}).has_value());
}

TEST(Compat, GperftoolsDumpsCompareTheirMainExecutable) {
  const std::string hdr = "heap profile: 0: 0 [0: 0] @ heapprofile\n\nMAPPED_LIBRARIES:\n";
  const Snapshot a = must_parse(hdr + "00400000-00401000 r-xp 00000000 00:00 5 /bin/one\n", "a");
  const Snapshot b = must_parse(hdr + "00400000-00401000 r-xp 00000000 00:00 5 /bin/two\n", "b");
  auto e = check_compatible({&a, &b});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message, "a and b are snapshots of different programs (/bin/one vs /bin/two)");
}

// The decisions analyze() makes once for every writer: order, compatibility, gate, warnings,
// and what each entry is keyed by.
TEST(Decisions, TrendInputsAreReorderedByTimeWithANote) {
  const Snapshot t3 = with_meta("/a", "# leakprobe.time: 300.5\n", "t3");
  const Snapshot t1 = with_meta("/a", "# leakprobe.time: 100\n", "t1");
  const Snapshot t2 = with_meta("/a", "# leakprobe.time: 200\n", "t2");
  const Analysis r = run({&t3, &t1, &t2});
  ASSERT_EQ(r.inputs.size(), 3u);
  EXPECT_EQ(r.inputs[0].name, "t1");
  EXPECT_EQ(r.inputs[2].name, "t3");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].kind, Warning::Kind::kReordered);
  EXPECT_TRUE(r.warnings[0].is_note());
  EXPECT_EQ(r.warnings[0].subjects, (std::vector<std::string>{"t1", "t2", "t3"}));
  EXPECT_EQ(warning_text(r.warnings[0]),
            "note: snapshots ordered by their leakprobe.time: t1 t2 t3");
  EXPECT_TRUE(run({&t1, &t2, &t3}).warnings.empty()) << "already in order: nothing to say";
}

TEST(Decisions, IncompatibleInputsAreAnError) {
  const Snapshot a = with_meta("/usr/sbin/mosquitto", "", "a.heap");
  const Snapshot b = with_meta("/usr/bin/other", "", "b.heap");
  Result<Analysis> r = analyze({&a, &b}, {}, Options{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("a.heap and b.heap are snapshots of different programs", 0),
            0u);
}

TEST(Decisions, CutStacksAreAStructuredWarning) {
  const Snapshot a = with_meta("/a", "", "a.heap");
  const Snapshot b =
      with_meta("/a", "# leakprobe.depth: 32\n# leakprobe.truncated-stacks: 2\n", "b.heap");
  const Analysis r = run({&a, &b});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].kind, Warning::Kind::kStacksCut);
  EXPECT_EQ(r.warnings[0].subjects, (std::vector<std::string>{"b.heap"}));
  EXPECT_EQ(r.warnings[0].stacks, 2);
  EXPECT_EQ(r.warnings[0].depth, 32);
  EXPECT_FALSE(r.warnings[0].is_note());
}

TEST(Decisions, GateVerdictIsPartOfTheAnalysis) {
  const Snapshot before = must_parse(leakprobe_text({}));
  const Snapshot after = must_parse(leakprobe_text({{3, 3000, 3, 3000, {kBaseA + 0x1101}}}));
  Options opts;
  EXPECT_FALSE(run({&before, &after}, {}, opts).gate.has_value()) << "no gate unless asked";
  opts.fail_on_growth = 2999;
  const Analysis over = run({&before, &after}, {}, opts);
  ASSERT_TRUE(over.gate.has_value());
  EXPECT_EQ(over.gate->threshold, 2999);
  EXPECT_TRUE(over.gate->exceeded);
  opts.fail_on_growth = 3000;  // strictly greater
  EXPECT_FALSE(run({&before, &after}, {}, opts).gate->exceeded);
}

TEST(Decisions, GroupKeySaysWhatTheEntryStandsFor) {
  FakeSymbols syms;
  syms.app[0x1100] = {fn("add_topic", "topics.c", 5)};
  syms.app[0x1200] = {fn("add_client")};  // no line information
  const Snapshot before = must_parse(leakprobe_text({}));
  const Snapshot after = must_parse(leakprobe_text({{1, 300, 1, 300, {kBaseA + 0x1101}},
                                                    {1, 200, 1, 200, {kBaseA + 0x1201}},
                                                    {1, 100, 1, 100, {kBaseA + 0x1301}},
                                                    {1, 50, 1, 50, {}}}));
  Analysis r = run({&before, &after}, syms.source());
  ASSERT_EQ(r.entries.size(), 4u);
  EXPECT_EQ(r.entries[0].key.kind, GroupKey::Kind::kLocation);
  EXPECT_EQ(r.entries[0].key.file, "topics.c");
  EXPECT_EQ(r.entries[0].key.line, 5);
  EXPECT_EQ(r.entries[1].key.kind, GroupKey::Kind::kFunction);
  EXPECT_EQ(r.entries[2].key.kind, GroupKey::Kind::kAddress);
  EXPECT_EQ(r.entries[2].key.offset, 0x1300u);
  EXPECT_EQ(r.entries[2].key.text(), "app+0x1300");
  EXPECT_EQ(r.entries[3].key.kind, GroupKey::Kind::kNoFrames);
  EXPECT_EQ(r.entries[3].key.text(), "[no frames]");
  Options by_function;
  by_function.by = GroupBy::kFunction;
  r = run({&before, &after}, syms.source(), by_function);
  EXPECT_EQ(r.entries[0].key.kind, GroupKey::Kind::kFunction);
  EXPECT_EQ(r.entries[0].key.text(), "add_topic");
}

TEST(Compat, TrendOrderFollowsTimeWhenEverySnapshotHasOne) {
  const Snapshot t3 = with_meta("/a", "# leakprobe.time: 300.5\n", "t3");
  const Snapshot t1 = with_meta("/a", "# leakprobe.time: 100\n", "t1");
  const Snapshot t2 = with_meta("/a", "# leakprobe.time: 200\n", "t2");
  const Snapshot none = with_meta("/a", "", "none");
  EXPECT_EQ(trend_order({&t3, &t1, &t2}), (std::vector<size_t>{1, 2, 0}));
  EXPECT_EQ(trend_order({&t3, &none, &t1}), (std::vector<size_t>{0, 1, 2}));
}

}  // namespace
}  // namespace leakprobe::analysis

namespace leakprobe::analysis {
namespace {

// Found by mutating the golden files: a path that is not UTF-8 made nlohmann_json throw.
TEST(Report, JsonSurvivesPathsThatAreNotUtf8) {
  const Snapshot a = must_parse(testing::leakprobe_text({}, kBaseA, "/opt/\xff\xfe/app"), "a.heap");
  const Snapshot b = must_parse(
      testing::leakprobe_text({{1, 8, 1, 8, {kBaseA + 0x1101}}}, kBaseA, "/opt/\xff\xfe/app"),
      "b.heap");
  const Analysis r = run({&a, &b});
  std::ostringstream json;
  EXPECT_NO_THROW(write_json_report(json, r, ReportContext{}));
  EXPECT_NE(json.str().find("/opt/\xEF\xBF\xBD\xEF\xBF\xBD/app"), std::string::npos) << json.str();
}

}  // namespace
}  // namespace leakprobe::analysis

namespace leakprobe::analysis {
namespace {

// The scale heapdiff is built for (a busy broker): 100k distinct stacks over a few thousand
// distinct addresses. Checks the numbers, not the time (CTest's timeout catches a blow-up).
TEST(Scale, HundredThousandStacks) {
  constexpr int kStacks = 100000;
  std::vector<Line> before_lines, after_lines;
  before_lines.reserve(kStacks);
  after_lines.reserve(kStacks);
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  for (int i = 0; i < kStacks; ++i) {
    std::vector<uint64_t> addrs;
    addrs.push_back(kBaseA + 0x1001 + static_cast<uint64_t>(i % 5000) * 4);  // site
    for (int f = 0; f < 7; ++f) addrs.push_back(kBaseA + 0x1001 + (next() % 3000) * 8);
    addrs.push_back(kBaseA + 0x1001 + static_cast<uint64_t>(i));  // makes every stack distinct
    before_lines.push_back({1, 16, 1, 16, addrs});
    const int64_t grow = i % 10 == 0 ? 2 : 0;  // every 10th stack leaks two more 16-byte blocks
    after_lines.push_back({1 + grow, 16 + 16 * grow, 1 + grow, 16 + 16 * grow, addrs});
  }
  const Snapshot before = must_parse(leakprobe_text(before_lines), "before.heap");
  const Snapshot after = must_parse(leakprobe_text(after_lines), "after.heap");
  ASSERT_EQ(before.stacks.size(), static_cast<size_t>(kStacks));
  const Analysis r = run({&before, &after});
  EXPECT_EQ(r.stacks_total, static_cast<size_t>(kStacks));
  EXPECT_EQ(r.changed, static_cast<size_t>(kStacks / 10));
  EXPECT_EQ(r.growth_bytes, kStacks / 10 * 32);
  ASSERT_EQ(r.entries.size(), 10u);
  EXPECT_EQ(r.entries[0].delta().live_bytes, 32);

  Options by_line;
  by_line.by = GroupBy::kLine;
  const Analysis g = run({&before, &after}, {}, by_line);
  // Stacks i, i + 5000, i + 10000, ... share a site: 500 sites hold the 10000 growing stacks.
  EXPECT_EQ(g.changed, 500u);
  EXPECT_EQ(g.entries[0].stacks, static_cast<size_t>(kStacks / 5000));
  EXPECT_EQ(g.entries[0].delta().live_bytes, 20 * 32);
}

}  // namespace
}  // namespace leakprobe::analysis

namespace leakprobe::analysis {
namespace {

// Brokers hold far more stacks than change; only the changed ones need the symbolizer, and
// only up to their first non-allocator frame until they are listed.
TEST(Symbols, OnlyChangedStacksAreSymbolized) {
  FakeSymbols syms;
  syms.app[0x1100] = {fn("grow_here")};
  // The unchanged stack is deeper than the rows the wrapper search looks at (wrappers.h).
  const std::vector<uint64_t> unchanged = {kBaseA + 0x1201, kBaseA + 0x1301, kBaseA + 0x1401,
                                           kBaseA + 0x1501, kBaseA + 0x1601, kBaseA + 0x1701,
                                           kBaseA + 0x1801, kBaseA + 0x1a01};
  const Snapshot a = must_parse(
      leakprobe_text({{1, 8, 1, 8, {kBaseA + 0x1101, kBaseA + 0x1901}}, {1, 8, 1, 8, unchanged}}));
  const Snapshot b = must_parse(leakprobe_text(
      {{2, 16, 2, 16, {kBaseA + 0x1101, kBaseA + 0x1901}}, {1, 8, 1, 8, unchanged}}));
  Options opts;
  opts.top = 0;
  opts.fold_wrappers = false;
  const Analysis r = run({&a, &b}, syms.source(), opts);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].site.function, "grow_here");
  EXPECT_EQ(r.totals[1], (Counts{3, 24, 3, 24}));  // the unchanged stack still counts
  auto asked = [&syms] {
    std::vector<uint64_t> out;
    for (const auto& c : syms.calls) out.push_back(c.second);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  };
  EXPECT_EQ(asked(), (std::vector<uint64_t>{0x1100, 0x1900}));  // nothing of the unchanged one
  // Looking for allocation wrappers reads the rows near the allocator of every stack, never
  // the rest of an unchanged stack.
  syms.calls.clear();
  opts.fold_wrappers = true;
  EXPECT_EQ(run({&a, &b}, syms.source(), opts).entries.size(), 1u);
  const std::vector<uint64_t> looked_at = asked();
  for (uint64_t deep : {0x1700u, 0x1800u, 0x1a00u}) {
    EXPECT_EQ(std::count(looked_at.begin(), looked_at.end(), deep), 0) << std::hex << deep;
  }
}

}  // namespace
}  // namespace leakprobe::analysis

namespace leakprobe::analysis {
namespace {

// A library's own allocation wrapper, named on no list: `lib_alloc` sits directly above malloc
// for three different API functions, and its bookkeeping (`tree_insert`, called only from it)
// allocates too. `config_copy`, called from two places, is the program's own code.
TEST(Fold, WrappersFoundInTheStacksAreFolded) {
  FakeSymbols syms;
  syms.app[0x1100] = {fn("lib_alloc")};
  syms.app[0x1140] = {fn("lib_alloc")};  // its second call into the allocator
  syms.app[0x1200] = {fn("api_connect")};
  syms.app[0x1300] = {fn("api_publish")};
  syms.app[0x1400] = {fn("api_subscribe")};
  syms.app[0x1500] = {fn("tree_insert")};
  syms.app[0x1600] = {fn("config_copy")};
  syms.app[0x1700] = {fn("load_a")};
  syms.app[0x1800] = {fn("load_b")};
  syms.app[0x1900] = {fn("main")};
  const Snapshot a = must_parse(leakprobe_text({}));
  const Snapshot b = must_parse(leakprobe_text({
      {2, 64, 2, 64, {kBaseA + 0x1101, kBaseA + 0x1201, kBaseA + 0x1901}},
      {1, 32, 1, 32, {kBaseA + 0x1141, kBaseA + 0x1201, kBaseA + 0x1901}},
      {3, 96, 3, 96, {kBaseA + 0x1101, kBaseA + 0x1301, kBaseA + 0x1901}},
      {1, 16, 1, 16, {kBaseA + 0x1101, kBaseA + 0x1401, kBaseA + 0x1901}},
      {4, 128, 4, 128, {kBaseA + 0x1501, kBaseA + 0x1101, kBaseA + 0x1201, kBaseA + 0x1901}},
      {1, 8, 1, 8, {kBaseA + 0x1601, kBaseA + 0x1701, kBaseA + 0x1901}},
      {1, 8, 1, 8, {kBaseA + 0x1601, kBaseA + 0x1801, kBaseA + 0x1901}},
  }));
  Options opts;
  opts.by = GroupBy::kFunction;
  opts.top = 0;
  const Analysis r = run({&a, &b}, syms.source(), opts);
  std::map<std::string, int64_t> bytes;
  for (const Entry& e : r.entries) bytes[e.key.text()] = e.delta().live_bytes;
  // --by function adds up the API, not the wrapper: api_connect's own calls and the wrapper's
  // bookkeeping for them.
  EXPECT_EQ(bytes, (std::map<std::string, int64_t>{{"api_connect", 64 + 32 + 128},
                                                   {"api_publish", 96},
                                                   {"api_subscribe", 16},
                                                   {"config_copy", 16}}));
  ASSERT_EQ(r.folded_wrappers.size(), 2u);
  EXPECT_EQ(r.folded_wrappers[0].function, "lib_alloc");
  EXPECT_EQ(r.folded_wrappers[0].callers, 3u);
  EXPECT_EQ(r.folded_wrappers[0].helper_of, "");
  EXPECT_EQ(r.folded_wrappers[1].function, "tree_insert");
  EXPECT_EQ(r.folded_wrappers[1].helper_of, "lib_alloc");
  EXPECT_EQ(r.folded_wrappers[0].module, "/opt/t/app");

  // Asked not to, it folds nothing: the wrapper is the site of most rows again.
  opts.fold_wrappers = false;
  const Analysis kept = run({&a, &b}, syms.source(), opts);
  EXPECT_TRUE(kept.folded_wrappers.empty());
  EXPECT_EQ(kept.entries.front().key.text(), "lib_alloc");
}

// A function that allocates at many places is code, however many callers it has.
TEST(Fold, AFunctionAllocatingAtManyPlacesIsNoWrapper) {
  FakeSymbols syms;
  for (uint64_t call : {0x1100u, 0x1110u, 0x1120u, 0x1130u, 0x1140u}) {
    syms.app[call] = {fn("build_session")};
  }
  syms.app[0x1200] = {fn("on_a")};
  syms.app[0x1300] = {fn("on_b")};
  syms.app[0x1400] = {fn("on_c")};
  const Snapshot a = must_parse(leakprobe_text({}));
  const Snapshot b = must_parse(leakprobe_text({
      {1, 8, 1, 8, {kBaseA + 0x1101, kBaseA + 0x1201}},
      {1, 8, 1, 8, {kBaseA + 0x1111, kBaseA + 0x1301}},
      {1, 8, 1, 8, {kBaseA + 0x1121, kBaseA + 0x1401}},
      {1, 8, 1, 8, {kBaseA + 0x1131, kBaseA + 0x1201}},
      {1, 8, 1, 8, {kBaseA + 0x1141, kBaseA + 0x1301}},
  }));
  Options opts;
  opts.by = GroupBy::kFunction;
  const Analysis r = run({&a, &b}, syms.source(), opts);
  EXPECT_TRUE(r.folded_wrappers.empty());
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].key.text(), "build_session");
}

TEST(Fold, ExtraWrappersFoldWithTheFoldOption) {
  FakeSymbols syms;
  syms.app[0x1100] = {fn("xmalloc", "util.c", 3)};
  syms.app[0x1200] = {fn("pool_get", "pool.c", 9)};
  syms.app[0x1300] = {fn("handle_connect", "net.c", 77)};
  const Snapshot a = must_parse(leakprobe_text({}));
  const Snapshot b = must_parse(
      leakprobe_text({{1, 64, 1, 64, {kBaseA + 0x1101, kBaseA + 0x1201, kBaseA + 0x1301}}}));
  Options opts;
  EXPECT_EQ(run({&a, &b}, syms.source(), opts).entries[0].site.function, "xmalloc");
  opts.fold = "^(xmalloc|pool_get) ";
  const Analysis r = run({&a, &b}, syms.source(), opts);
  EXPECT_EQ(r.entries[0].site.function, "handle_connect");
  EXPECT_EQ(r.entries[0].folded, 2u);
  opts.fold = "(";
  EXPECT_FALSE(analyze({&a, &b}, syms.source(), opts).ok());
}

}  // namespace
}  // namespace leakprobe::analysis

namespace leakprobe::analysis {
namespace {

// Issue 23 item 6: function names from a hostile profile carried raw ESC, NUL and DEL bytes
// (and C1 CSI) to the terminal; the text report escapes them and keeps UTF-8 text.
TEST(Report, ControlCharactersInNamesAreEscapedInText) {
  FakeSymbols syms;
  syms.app[0x1100] = {
      fn(std::string("evil\x1b[2J\x07name") + '\0' + "tail\x7f\xc2\x9b" + "Δ", "f.c", 1)};
  const Snapshot a = must_parse(leakprobe_text({}));
  const Snapshot b = must_parse(leakprobe_text({{1, 64, 1, 64, {kBaseA + 0x1101}}}));
  std::ostringstream out;
  write_text_report(out, run({&a, &b}, syms.source()), ReportContext{});
  const std::string text = out.str();
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u == '\n' || (u >= 0x20 && u != 0x7f)) << "raw control byte " << int(u);
  }
  EXPECT_EQ(text.find("\xc2\x9b"), std::string::npos) << "C1 CSI left raw";
  EXPECT_NE(text.find("evil\\x1b[2J\\x07name\\x00tail\\x7f\\u009bΔ"), std::string::npos) << text;
}

}  // namespace
}  // namespace leakprobe::analysis
