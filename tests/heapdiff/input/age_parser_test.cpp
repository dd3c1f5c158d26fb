// The age lines of a snapshot (docs/snapshot-format.md, "Age of live memory"): read, unsampled
// with their stack line, refused with a clear message where they break the grammar, and
// absent (age unknown) in files that do not have them.
#include <gtest/gtest.h>

#include <string>

#include "leakprobe/analysis/parser.h"

namespace leakprobe::analysis {
namespace {

const std::string kHead =
    "heap profile: 3: 120012 [10: 400040] @ heapprofile\n"
    "# leakprobe.format: 1\n"
    "# leakprobe.pid: 4242\n"
    "# leakprobe.time: 1795777260.5\n"
    "# leakprobe.sequence: 3\n";
const std::string kAge =
    "# leakprobe.age: buckets=60,3600,86400 resolution=2 census-us=9 max-hold-us=1\n";
const std::string kTail =
    "\nMAPPED_LIBRARIES:\n00400000-00409000 r-xp 00000000 00:00 5 /a\n# leakprobe.end\n";

TEST(AgeParser, ReadsHeaderCutoffsAndOneLinePerStack) {
  Result<Snapshot> r = parse_snapshot(
      kHead + kAge + "# leakprobe.age-cutoff: 1 1795777200.125000\n" +
          "# leakprobe.age-cutoff: 2 1795777230.000000\n" + "2: 80008 [5: 200020] @ 0x400100\n" +
          "# leakprobe.age-stack: 1:40004 0:0 0:0 1:40004 mean=50000 before=1:40004,1:40004\n" +
          "1: 40004 [5: 200020] @ 0x400200\n" +
          "# leakprobe.age-stack: 1:40004 0:0 0:0 0:0 mean=7 before=0:0,0:0\n" + kTail,
      "a.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Snapshot& s = r.value();
  ASSERT_TRUE(s.age.has_value());
  EXPECT_EQ(s.age->resolution_s, 2u);
  ASSERT_EQ(s.age->cutoffs.size(), 2u);
  EXPECT_EQ(s.age->cutoffs[0].sequence, 1);
  EXPECT_EQ(s.age->cutoffs[0].time, 1795777200.125) << "parsed like `time`, so they compare";
  ASSERT_EQ(s.stack_ages.size(), 2u);
  const AgeCounts& a = s.stack_ages[0];
  EXPECT_EQ(a.bytes[0], 40004);
  EXPECT_EQ(a.bytes[3], 40004);
  EXPECT_EQ(a.oldest_bucket(), 3);
  ASSERT_TRUE(a.mean_s());
  EXPECT_DOUBLE_EQ(*a.mean_s(), 50000);
  EXPECT_EQ(a.before_bytes, (std::vector<int64_t>{40004, 40004}));
  EXPECT_EQ(s.stack_ages[1].oldest_bucket(), 0);
  AgeCounts sum = s.stack_ages[0];
  sum += s.stack_ages[1];
  EXPECT_DOUBLE_EQ(*sum.mean_s(), (80008.0 * 50000 + 40004.0 * 7) / 120012) << "byte-weighted";
}

TEST(AgeParser, OlderSnapshotsHaveNoAge) {
  Result<Snapshot> r =
      parse_snapshot(kHead + "2: 80008 [5: 200020] @ 0x400100\n" + kTail, "a.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r.value().age.has_value());
  EXPECT_TRUE(r.value().stack_ages.empty());
}

// A newer probe's buckets: skipped (age unknown), never misread as ours.
TEST(AgeParser, OtherBucketsAreSkipped) {
  Result<Snapshot> r = parse_snapshot(kHead + "# leakprobe.age: buckets=10,100 resolution=1\n" +
                                          "2: 80008 [5: 200020] @ 0x400100\n" +
                                          "# leakprobe.age-stack: 1:1 1:1 1:1 mean=3\n" + kTail,
                                      "a.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r.value().age.has_value());
}

// Sampled snapshots: the age figures are scaled with their stack line's factor.
TEST(AgeParser, SampledAgeLinesAreUnsampledLikeTheirStackLine) {
  Result<Snapshot> r = parse_snapshot(
      "heap profile: 1: 1024 [1: 1024] @ heap_v2/524288\n# leakprobe.format: 1\n" + kAge +
          "1: 1024 [1: 1024] @ 0x400100\n# leakprobe.age-stack: 0:0 1:1024 0:0 0:0 mean=100\n" +
          kTail,
      "s.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Snapshot& s = r.value();
  ASSERT_EQ(s.stacks.size(), 1u);
  EXPECT_EQ(s.stack_ages[0].bytes[1], s.stacks[0].counts.live_bytes);
  EXPECT_GT(s.stack_ages[0].bytes[1], 1024);
  EXPECT_DOUBLE_EQ(*s.stack_ages[0].mean_s(), 100) << "a mean needs no unscaling";
}

struct Bad {
  const char* title;
  std::string text;
  std::string message;
};
void PrintTo(const Bad& b, std::ostream* os) { *os << b.title; }
class AgeParserRejects : public ::testing::TestWithParam<Bad> {};

TEST_P(AgeParserRejects, WithAClearMessage) {
  Result<Snapshot> r = parse_snapshot(GetParam().text, "x.heap");
  ASSERT_FALSE(r.ok()) << GetParam().title;
  EXPECT_EQ(r.error().message, GetParam().message) << GetParam().title;
}

INSTANTIATE_TEST_SUITE_P(
    BadAgeLines, AgeParserRejects,
    ::testing::Values(
        Bad{"age line without the header",
            kHead + "2: 8 [5: 20] @ 0x400100\n# leakprobe.age-stack: 1:8 0:0 0:0 0:0 mean=1\n" +
                kTail,
            "x.heap:7: leakprobe.age-stack without a leakprobe.age line"},
        Bad{"age line not after its stack line",
            kHead + kAge + "2: 8 [5: 20] @ 0x400100\n# leakprobe.sequence: 3\n" +
                "# leakprobe.age-stack: 1:8 0:0 0:0 0:0 mean=1\n" + kTail,
            "x.heap:9: leakprobe.age-stack not right after a stack line"},
        Bad{"two age lines for one stack line",
            kHead + kAge +
                "2: 8 [5: 20] @ 0x400100\n# leakprobe.age-stack: 1:8 0:0 0:0 0:0 mean=1\n" +
                "# leakprobe.age-stack: 1:8 0:0 0:0 0:0 mean=1\n" + kTail,
            "x.heap:9: leakprobe.age-stack not right after a stack line"},
        Bad{"missing before= list",
            kHead + kAge + "# leakprobe.age-cutoff: 1 1795777200.125\n" +
                "2: 8 [5: 20] @ 0x400100\n# leakprobe.age-stack: 1:8 0:0 0:0 0:0 mean=1\n" + kTail,
            "x.heap:9: leakprobe.age-stack without the before= list its age-cutoff lines call for"},
        Bad{"malformed mean",
            kHead + kAge +
                "2: 8 [5: 20] @ 0x400100\n# leakprobe.age-stack: 1:8 0:0 0:0 0:0 mean=x\n" + kTail,
            "x.heap:8: malformed leakprobe.age-stack mean in '1:8 0:0 0:0 0:0 mean=x'"},
        Bad{"three buckets",
            kHead + kAge + "2: 8 [5: 20] @ 0x400100\n# leakprobe.age-stack: 1:8 0:0 0:0 mean=1\n" +
                kTail,
            "x.heap:8: malformed leakprobe.age-stack '1:8 0:0 0:0 mean=1' (expected 4 buckets "
            "'<objects>:<bytes>', then mean=)"},
        Bad{"malformed cutoff", kHead + kAge + "# leakprobe.age-cutoff: soon\n" + kTail,
            "x.heap:7: malformed leakprobe.age-cutoff value 'soon' (expected '<sequence> <unix "
            "seconds>')"}));

}  // namespace
}  // namespace leakprobe::analysis
