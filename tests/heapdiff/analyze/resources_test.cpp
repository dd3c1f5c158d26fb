// Resource growth as analyze() decides it (tools/analysis/src/analyze/resources.cpp), on small
// synthetic snapshots with resource sections.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/parser.h"
#include "leakprobe/analysis/report.h"
#include "test_snapshots.h"

namespace leakprobe::analysis {
namespace {

// One snapshot: `tcp` live/created at the connect site, `threads` at the watcher site, two
// inherited files.
Snapshot make(int tcp_live, int tcp_created, int threads, const char* flag = "1") {
  std::string meta = std::string("# leakprobe.resources: ") + flag + "\n";
  if (std::string(flag) == "1") {
    meta += "# leakprobe.untracked-fds: 1\n";
    meta += "# leakprobe.section: tcp\n#  " + std::to_string(tcp_live) + ": 0 [" +
            std::to_string(tcp_created) + ": 0] @ 0x555500001234 0x555500001300\n";
    meta += "# leakprobe.end-section: tcp\n";
    meta += "# leakprobe.section: file\n#  2: 0 [2: 0] @\n# leakprobe.end-section: file\n";
    meta += "# leakprobe.section: thread\n#  " + std::to_string(threads) + ": 0 [" +
            std::to_string(threads) + ": 0] @ 0x555500001400\n# leakprobe.end-section: thread\n";
  }
  Result<Snapshot> r =
      parse_snapshot(testing::leakprobe_text({{1, 8, 1, 8, {0x555500001000}}}, 0x555500000000,
                                             "/opt/t/app", 100, meta),
                     "s.heap");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return std::move(r).value();
}

Analysis run(const std::vector<const Snapshot*>& in, Options o = {}) {
  Result<Analysis> a = analyze(in, SymbolSource{}, o);
  EXPECT_TRUE(a.ok()) << a.error().message;
  return std::move(a).value();
}

TEST(Resources, RanksGrowthByCreatingStackNextToTheHeap) {
  Snapshot a = make(5, 10, 1), b = make(248, 300, 3);
  Analysis an = run({&a, &b});
  const ResourceReport& r = an.resources;
  ASSERT_TRUE(r.available) << r.why_not;
  EXPECT_EQ(r.growth, 243 + 2);
  ASSERT_EQ(r.entries.size(), 2u);  // the inherited files did not change: not listed
  EXPECT_EQ(r.entries[0].kind, "tcp");
  EXPECT_EQ(r.entries[0].delta(), 243);
  EXPECT_EQ(r.entries[0].delta_created(), 290);
  EXPECT_EQ(r.entries[0].live, (std::vector<int64_t>{5, 248}));
  EXPECT_EQ(r.entries[0].site.module, "/opt/t/app");
  EXPECT_EQ(r.entries[0].site.offset, 0x1233u);  // the call, one before the return address
  EXPECT_EQ(r.entries[0].frames.size(), 2u);
  EXPECT_EQ(r.entries[1].kind, "thread");
  EXPECT_EQ(r.entries[1].delta(), 2);
  EXPECT_EQ(r.untracked_fds, (std::vector<int64_t>{1, 1}));
  ASSERT_EQ(r.totals.size(), 3u);
  EXPECT_EQ(r.totals[0].kind, "tcp");
  EXPECT_EQ(r.totals[1].kind, "file");
  EXPECT_EQ(r.totals[1].live, (std::vector<int64_t>{2, 2}));

  std::ostringstream text;
  write_text_report(text, an, ReportContext{});
  EXPECT_NE(text.str().find("  +243 TCP sockets from app+0x1233  (live 5 -> 248; 290 created, "
                            "47 released in between)\n"),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("  +2 threads from app+0x13ff"), std::string::npos) << text.str();
}

TEST(Resources, GateCountsTheGrowthOfAllKinds) {
  Snapshot a = make(5, 10, 1), b = make(8, 10, 2);
  Options o;
  o.fail_on_resource_growth = 3;
  EXPECT_TRUE(run({&a, &b}, o).resources.gate_exceeded);  // +3 sockets, +1 thread
  o.fail_on_resource_growth = 4;
  EXPECT_FALSE(run({&a, &b}, o).resources.gate_exceeded);  // strictly more than N
  o.fail_on_resource_growth = 2;
  Snapshot c = make(2, 10, 1);  // fewer sockets: shrinking is no growth
  EXPECT_FALSE(run({&a, &c}, o).resources.gate_exceeded);
}

TEST(Resources, TrendSuspectsFirst) {
  Snapshot s1 = make(10, 10, 1), s2 = make(20, 20, 5), s3 = make(30, 30, 5), s4 = make(40, 40, 5);
  Analysis an = run({&s1, &s2, &s3, &s4});
  ASSERT_EQ(an.resources.entries.size(), 2u);
  EXPECT_EQ(an.resources.entries[0].kind, "tcp");
  EXPECT_EQ(an.resources.entries[0].trend, Trend::kGrowing);
  EXPECT_EQ(an.resources.entries[1].kind, "thread");
  EXPECT_EQ(an.resources.entries[1].trend, Trend::kPlateau);
}

TEST(Resources, SaysWhyTheyCannotBeCompared) {
  Snapshot on = make(1, 1, 1), off = make(0, 0, 0, "0");
  Analysis an = run({&on, &off});
  EXPECT_FALSE(an.resources.available);
  EXPECT_EQ(an.resources.why_not,
            "s.heap was written with resource tracking off (LEAKPROBE_RESOURCES=0)");
  Result<Snapshot> old = parse_snapshot(testing::leakprobe_text({}), "old.heap");
  ASSERT_TRUE(old.ok());
  an = run({&on, &old.value()});
  EXPECT_FALSE(an.resources.available);
  EXPECT_NE(an.resources.why_not.find("old.heap has no resource sections"), std::string::npos);
  std::ostringstream text;
  write_text_report(text, an, ReportContext{});
  EXPECT_NE(text.str().find("  not compared: old.heap has no resource sections"),
            std::string::npos);
}

TEST(Resources, NounsCountAndKind) {
  EXPECT_EQ(resource_noun("tcp", 243), "TCP sockets");
  EXPECT_EQ(resource_noun("tcp", 1), "TCP socket");
  EXPECT_EQ(resource_noun("thread", -1), "thread");
  EXPECT_EQ(resource_noun("timer", 2), "POSIX timers");
}

}  // namespace
}  // namespace leakprobe::analysis
