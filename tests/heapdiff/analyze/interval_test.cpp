// Intervals that cannot be trusted (issue 24 item 3, issue 23 item 3): the snapshots say that
// recording was off for part of the interval, or that the probe missed something; the analysis
// records each as an interval problem, and no writer says "no growth" over it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
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

// The same unchanged stack in every snapshot: over a trusted interval, "no growth".
Snapshot snap(const std::string& name, double time, const std::string& meta) {
  return must_parse(leakprobe_text({{1, 100, 1, 100, {kBase + 0x1101}}}, kBase, "/opt/t/app", 100,
                                   "# leakprobe.time: " + std::to_string(time) + "\n" + meta),
                    name);
}

Analysis run(const std::vector<const Snapshot*>& snaps, Options opts = {}) {
  Result<Analysis> r = analyze(snaps, {}, opts);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return std::move(r).value();
}

std::string text_of(const Analysis& a) {
  std::ostringstream out;
  write_text_report(out, a, ReportContext{});
  return out.str();
}

nlohmann::json json_of(const Analysis& a) {
  std::ostringstream out;
  write_json_report(out, a, ReportContext{});
  return nlohmann::json::parse(out.str());
}

std::string html_of(const Analysis& a) {
  std::ostringstream out;
  write_html_report(out, a, ReportContext{});
  return out.str();
}

}  // namespace

TEST(Interval, ParsesRecordingAndIncompleteLines) {
  const Snapshot s = snap("s.heap", 500,
                          "# leakprobe.recording: off since 400.250000\n"
                          "# leakprobe.recording-changed: 300.5\n"
                          "# leakprobe.incomplete: stack-table-full since 450\n"
                          "# leakprobe.incomplete: deepbind-frees\n");
  ASSERT_TRUE(s.recording.has_value());
  EXPECT_EQ(s.recording->state, "off");
  EXPECT_DOUBLE_EQ(s.recording->since, 400.25);
  ASSERT_TRUE(s.recording->first_switch.has_value());
  EXPECT_DOUBLE_EQ(*s.recording->first_switch, 300.5);
  ASSERT_EQ(s.incomplete.size(), 2u);
  EXPECT_EQ(s.incomplete[0].reason, "stack-table-full");
  EXPECT_DOUBLE_EQ(s.incomplete[0].since.value_or(0), 450);
  EXPECT_EQ(s.incomplete[1].reason, "deepbind-frees");
  EXPECT_FALSE(s.incomplete[1].since.has_value());
}

TEST(Interval, MalformedRecordingLineIsAnError) {
  for (const char* bad :
       {"# leakprobe.recording: on\n", "# leakprobe.recording: on since x\n",
        "# leakprobe.recording: since 5\n", "# leakprobe.recording-changed: yesterday\n"}) {
    const std::string text = leakprobe_text({}, kBase, "/opt/t/app", 100, bad);
    EXPECT_FALSE(parse_snapshot(text, "bad.heap").ok()) << bad;
  }
}

TEST(Interval, RecordingOnThroughoutIsTrusted) {
  const Snapshot a = snap("a.heap", 100, "# leakprobe.recording: on since 50\n");
  const Snapshot b = snap("b.heap", 200, "# leakprobe.recording: on since 50\n");
  const Analysis r = run({&a, &b});
  EXPECT_TRUE(r.interval_trusted());
  EXPECT_NE(text_of(r).find("no growth:"), std::string::npos);
  // Enabled, disabled and enabled again before the base: on since before it still covers it.
  const Snapshot c = snap("c.heap", 300,
                          "# leakprobe.recording: on since 100\n"
                          "# leakprobe.recording-changed: 20\n");
  EXPECT_TRUE(run({&a, &c}).interval_trusted());
  // Older snapshots say nothing: taken as recording throughout, as before.
  const Snapshot old1 = snap("o1.heap", 100, "");
  const Snapshot old2 = snap("o2.heap", 200, "");
  EXPECT_TRUE(run({&old1, &old2}).interval_trusted());
}

TEST(Interval, DormantDisabledOrLateEnabledIsNeverNoGrowth) {
  const Snapshot base = snap("a.heap", 100, "# leakprobe.recording: dormant since 10\n");
  const Snapshot dormant = snap("b.heap", 200, "# leakprobe.recording: dormant since 10\n");
  const Snapshot off = snap("c.heap", 200,
                            "# leakprobe.recording: off since 150\n"
                            "# leakprobe.recording-changed: 20\n");
  const Snapshot late = snap("d.heap", 200,
                             "# leakprobe.recording: on since 150\n"
                             "# leakprobe.recording-changed: 150\n");
  for (const Snapshot* last : {&dormant, &off, &late}) {
    Options opts;
    opts.fail_on_growth = 64 * 1024;
    const Analysis r = run({&base, last}, opts);
    SCOPED_TRACE(last->name);
    EXPECT_FALSE(r.interval_trusted());
    ASSERT_EQ(r.warnings.size(), 1u);
    const Warning& w = r.warnings[0];
    EXPECT_EQ(w.kind, Warning::Kind::kRecordingOff);
    EXPECT_TRUE(w.distrusts_interval());
    EXPECT_EQ(w.subjects.front(), last->name);
    EXPECT_EQ(w.reason, last->recording->state);
    ASSERT_TRUE(w.time.has_value());
    EXPECT_DOUBLE_EQ(*w.time, last->recording->since);
    ASSERT_TRUE(r.gate.has_value());
    EXPECT_FALSE(r.gate->exceeded) << "nothing moved in what was recorded";

    const std::string text = text_of(r);
    EXPECT_EQ(text.find("no growth"), std::string::npos) << text;
    EXPECT_NE(text.find("growth unknown: the interval cannot be trusted"), std::string::npos)
        << text;
    EXPECT_NE(text.find("UNTRUSTED"), std::string::npos) << text;
    EXPECT_NE(text.find("NOT APPLIED"), std::string::npos) << "the gate line: " << text;
    EXPECT_NE(text.find(warning_text(w)), std::string::npos) << text;

    const nlohmann::json j = json_of(r);
    EXPECT_EQ(j["no_growth"], false);
    EXPECT_EQ(j["interval_trusted"], false);
    EXPECT_EQ(j["fail_on_growth"]["applied"], false);
    ASSERT_EQ(j["warnings"].size(), 1u);
    EXPECT_EQ(j["warnings"][0]["code"], "recording-off");
    EXPECT_EQ(j["warnings"][0]["untrusted_interval"], true);
    EXPECT_EQ(j["warnings"][0]["message"], warning_text(w));

    const std::string html = html_of(r);
    EXPECT_NE(html.find("class=\"untrusted\" data-code=\"recording-off\""), std::string::npos);
    EXPECT_EQ(html.find("No growth"), std::string::npos);
  }
  EXPECT_NE(warning_text(run({&base, &dormant}).warnings[0]).find("dormant"), std::string::npos);
  EXPECT_NE(warning_text(run({&base, &late}).warnings[0]).find("enabled only at"),
            std::string::npos);
}

TEST(Interval, TrendModeChecksEverySnapshotAfterTheFirst) {
  const Snapshot s1 = snap("1.heap", 100, "# leakprobe.recording: on since 50\n");
  const Snapshot s2 = snap("2.heap", 200, "# leakprobe.recording: off since 150\n");
  const Snapshot s3 = snap("3.heap", 300, "# leakprobe.recording: on since 250\n");
  const Analysis r = run({&s1, &s2, &s3});
  EXPECT_FALSE(r.interval_trusted());
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0].subjects.front(), "2.heap");
  EXPECT_EQ(r.warnings[1].subjects.front(), "3.heap");
}

TEST(Interval, IncompleteMarksAreMergedByReason) {
  const Snapshot a = snap("a.heap", 100, "");
  const Snapshot b = snap("b.heap", 200, "# leakprobe.incomplete: stack-table-full since 150\n");
  const Snapshot c = snap("c.heap", 300,
                          "# leakprobe.incomplete: stack-table-full since 150\n"
                          "# leakprobe.incomplete: deepbind-frees since 250\n");
  const Analysis r = run({&a, &b, &c});
  EXPECT_FALSE(r.interval_trusted());
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0].kind, Warning::Kind::kIncomplete);
  EXPECT_EQ(r.warnings[0].reason, "stack-table-full");
  EXPECT_EQ(r.warnings[0].subjects, (std::vector<std::string>{"b.heap", "c.heap"}));
  EXPECT_EQ(r.warnings[1].reason, "deepbind-frees");
  EXPECT_EQ(json_of(r)["warnings"][1]["code"], "incomplete");
  EXPECT_EQ(text_of(r).find("no growth"), std::string::npos);
}

TEST(Interval, ForeignMallocDistrustsTheInterval) {
  const Snapshot a = snap("a.heap", 100, "");
  const Snapshot b = snap("b.heap", 200, "# leakprobe.foreign-malloc: /usr/lib/libjemalloc.so.2\n");
  const Analysis r = run({&a, &b});
  EXPECT_FALSE(r.interval_trusted());
  EXPECT_EQ(text_of(r).find("no growth"), std::string::npos);
}

TEST(Interval, ForeignMallocIsOneWarningThoughTheProbeAlsoMarksItIncomplete) {
  // The probe writes both lines; the foreign-malloc warning names the allocator and the fix.
  const std::string marks =
      "# leakprobe.foreign-malloc: /usr/lib/libjemalloc.so.2\n"
      "# leakprobe.incomplete: foreign-malloc since 150\n";
  const Snapshot a = snap("a.heap", 100, marks);
  const Snapshot b = snap("b.heap", 200, marks);
  const Analysis r = run({&a, &b});
  EXPECT_FALSE(r.interval_trusted());
  const nlohmann::json j = json_of(r);
  int foreign = 0, incomplete = 0;
  for (const auto& w : j["warnings"]) {
    foreign += w["code"] == "foreign-malloc";
    incomplete += w["code"] == "incomplete";
  }
  EXPECT_EQ(foreign, 2) << j["warnings"];  // one per snapshot, as before
  EXPECT_EQ(incomplete, 0) << j["warnings"];
}

// Two runs compared on purpose (--allow-different-processes): each recorded from its own start,
// so the second's "on since" after the first's time is not a late enable.
TEST(Interval, AnotherProcessRecordingSinceItsOwnStartIsTrusted) {
  const Snapshot a = snap("a.heap", 100, "# leakprobe.recording: on since 50\n");
  const Snapshot b =
      must_parse(leakprobe_text({{1, 100, 1, 100, {kBase + 0x1101}}}, kBase, "/opt/t/app", 200,
                                "# leakprobe.time: 300\n# leakprobe.recording: on since 250\n"),
                 "b.heap");
  Options opts;
  opts.allow_different_processes = true;
  EXPECT_TRUE(run({&a, &b}, opts).interval_trusted());
  // Within one process the same times are a late enable.
  const Snapshot c = snap("c.heap", 300, "# leakprobe.recording: on since 250\n");
  EXPECT_FALSE(run({&a, &c}).interval_trusted());
}

}  // namespace leakprobe::analysis
