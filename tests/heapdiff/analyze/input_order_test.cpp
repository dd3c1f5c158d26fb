// What heapdiff compares before it compares (issue 24 item 4): files given the wrong way round
// are put in order by their headers, snapshots of different processes are refused unless asked
// for (and then shown without the "between" figures), and an exit snapshot ending a trend is
// left out with a note.
#include <gtest/gtest.h>

#include <sstream>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/report.h"
#include "test_snapshots.h"

namespace leakprobe::analysis {
namespace {

using testing::leakprobe_text;
using testing::Line;
using testing::must_parse;

constexpr uint64_t kBase = 0x555500000000;

Snapshot snap(const std::string& name, int64_t pid, double time, int64_t seq, int64_t live_objs,
              const std::string& trigger = "request", const std::string& extra = "") {
  const std::string meta = "# leakprobe.time: " + std::to_string(time) +
                           "\n# leakprobe.sequence: " + std::to_string(seq) +
                           "\n# leakprobe.trigger: " + trigger + "\n" + extra;
  return must_parse(leakprobe_text({{live_objs,
                                     live_objs * 1000,
                                     live_objs + 10,
                                     (live_objs + 10) * 1000,
                                     {kBase + 0x1101}}},
                                   kBase, "/opt/t/app", pid, meta),
                    name);
}

Result<Analysis> analyze_opts(const std::vector<const Snapshot*>& snaps, Options opts = {}) {
  return analyze(snaps, {}, opts);
}

std::string text_of(const Analysis& a) {
  std::ostringstream out;
  write_text_report(out, a, ReportContext{});
  return out.str();
}

bool has(const Analysis& a, Warning::Kind kind) {
  for (const Warning& w : a.warnings) {
    if (w.kind == kind) return true;
  }
  return false;
}

}  // namespace

TEST(InputOrder, TwoFilesInReverseOrderArePutInOrderWithANote) {
  const Snapshot early = snap("early.heap", 7, 100, 1, 1);
  const Snapshot late = snap("late.heap", 7, 200, 2, 50);
  Options opts;
  opts.fail_on_growth = 10000;
  Result<Analysis> r = analyze_opts({&late, &early}, opts);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Analysis& a = r.value();
  ASSERT_EQ(a.inputs.size(), 2u);
  EXPECT_EQ(a.inputs[0].name, "early.heap");
  EXPECT_EQ(a.growth_bytes, 49000) << "growth, not shrinkage";
  EXPECT_TRUE(a.gate->exceeded) << "reversed files must not pass the gate";
  ASSERT_TRUE(has(a, Warning::Kind::kReordered));
  EXPECT_EQ(warning_text(a.warnings[0]),
            "note: snapshots ordered by their leakprobe.time: early.heap late.heap");
  // Equal times: the sequence decides.
  const Snapshot s1 = snap("s1.heap", 7, 100, 1, 1);
  const Snapshot s2 = snap("s2.heap", 7, 100, 2, 5);
  EXPECT_EQ(analyze_opts({&s2, &s1}).value().inputs[0].name, "s1.heap");
}

TEST(InputOrder, DifferentProcessesAreRefusedWithBothPids) {
  const Snapshot a = snap("a.heap", 100, 100, 1, 1);
  const Snapshot b = snap("b.heap", 200, 200, 1, 5);
  Result<Analysis> r = analyze_opts({&a, &b});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(
                "a.heap (pid 100) and b.heap (pid 200) are snapshots of different processes"),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("--allow-different-processes"), std::string::npos);
  // A daemon's parent exit snapshot against its forked child's: said so.
  const Snapshot child = snap("child.heap", 200, 200, 1, 5, "request", "# leakprobe.ppid: 100\n");
  Result<Analysis> forked = analyze_opts({&a, &child});
  ASSERT_FALSE(forked.ok());
  EXPECT_NE(forked.error().message.find("child.heap's process was forked from a.heap's"),
            std::string::npos)
      << forked.error().message;
}

TEST(InputOrder, DifferentProcessesWhenAskedShowNoBetweenFigures) {
  const Snapshot a = snap("a.heap", 100, 100, 1, 1);
  const Snapshot b = snap("b.heap", 200, 200, 1, 5);
  Options opts;
  opts.allow_different_processes = true;
  Result<Analysis> r = analyze_opts({&a, &b}, opts);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r.value().same_process);
  EXPECT_TRUE(has(r.value(), Warning::Kind::kDifferentProcesses));
  const std::string text = text_of(r.value());
  EXPECT_EQ(text.find("between   allocated"), std::string::npos) << text;
  EXPECT_EQ(text.find(" allocs "), std::string::npos) << text;
  EXPECT_EQ(text.find(" freed in between)"), std::string::npos) << text;
  EXPECT_NE(text.find("different processes (100 -> 200"), std::string::npos) << text;
}

TEST(InputOrder, ExitSnapshotEndingATrendIsLeftOutWithANote) {
  // A leak: 10, 20, 30 live; then the program exits and frees everything.
  const Snapshot s1 = snap("1.heap", 7, 100, 1, 10, "interval");
  const Snapshot s2 = snap("2.heap", 7, 200, 2, 20, "interval");
  const Snapshot s3 = snap("3.heap", 7, 300, 3, 30, "interval");
  const Snapshot s4 = snap("4.heap", 7, 310, 4, 0, "exit");
  Result<Analysis> r = analyze_opts({&s1, &s2, &s3, &s4});
  ASSERT_TRUE(r.ok());
  const Analysis& a = r.value();
  ASSERT_EQ(a.inputs.size(), 3u);
  EXPECT_EQ(a.inputs.back().name, "3.heap");
  ASSERT_TRUE(has(a, Warning::Kind::kExitLeftOut));
  ASSERT_EQ(a.entries.size(), 1u);
  EXPECT_EQ(a.entries[0].trend, Trend::kGrowing) << "the leak still reads as growth";
  EXPECT_TRUE(a.warnings.back().is_note());
  EXPECT_NE(warning_text(a.warnings.back()).find("4.heap left out"), std::string::npos);

  // A diff that ends on the exit snapshot is compared, with a warning.
  Result<Analysis> diff = analyze_opts({&s1, &s4});
  ASSERT_TRUE(diff.ok());
  EXPECT_EQ(diff.value().inputs.size(), 2u);
  EXPECT_TRUE(has(diff.value(), Warning::Kind::kExitSnapshot));
}

}  // namespace leakprobe::analysis

namespace leakprobe::analysis {

// Issue 24 item 4: an entry back where it started (it rose and fell again) is not a change
// over the interval compared, and is not listed as one.
TEST(InputOrder, NetZeroEntriesAreNotListedAsChanges) {
  auto three = [](int64_t a, int64_t b, double t, int64_t seq) {
    return must_parse(leakprobe_text({{a, a * 100, a + 5, (a + 5) * 100, {kBase + 0x1101}},
                                      {b, b * 100, b + 5, (b + 5) * 100, {kBase + 0x1201}}},
                                     kBase, "/opt/t/app", 7,
                                     "# leakprobe.time: " + std::to_string(t) +
                                         "\n# leakprobe.sequence: " + std::to_string(seq) + "\n"),
                      std::to_string(seq) + ".heap");
  };
  const Snapshot s1 = three(1, 1, 100, 1), s2 = three(9, 5, 200, 2), s3 = three(1, 9, 300, 3);
  Result<Analysis> r = analyze({&s1, &s2, &s3}, {}, Options{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().changed, 1u);
  ASSERT_EQ(r.value().entries.size(), 1u);
  EXPECT_EQ(r.value().entries[0].delta().live_objs, 8);
}

}  // namespace leakprobe::analysis
