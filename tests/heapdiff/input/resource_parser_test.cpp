// Resource sections (docs/snapshot-format.md, "Resource sections") as the analysis parser
// reads them.
#include <gtest/gtest.h>

#include <string>

#include "leakprobe/analysis/parser.h"
#include "test_snapshots.h"

namespace leakprobe::analysis {
namespace {

const std::string kSections =
    "# leakprobe.resources: 1\n"
    "# leakprobe.untracked-fds: 2\n"
    "# leakprobe.unseen-closes: 1\n"
    "# leakprobe.section: tcp\n"
    "#  243: 0 [250: 0] @ 0x555500001234 0x555500001300\n"
    "#  1: 0 [1: 0] @\n"
    "# leakprobe.end-section: tcp\n"
    "# leakprobe.section: some-future-kind\n"
    "#  whatever the future writes\n"
    "# leakprobe.end-section: some-future-kind\n"
    "# leakprobe.section: thread\n"
    "#  0: 0 [7: 0] @ 0x555500001400\n"
    "# leakprobe.end-section: thread\n";

TEST(ResourceParser, ReadsKnownSectionsAndSkipsUnknownOnes) {
  Result<Snapshot> r =
      parse_snapshot(testing::leakprobe_text({{1, 8, 1, 8, {0x555500001000}}}, 0x555500000000,
                                             "/opt/t/app", 100, kSections),
                     "r.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Snapshot& s = r.value();
  EXPECT_EQ(s.resources_tracked, true);
  EXPECT_EQ(s.untracked_fds, 2);
  EXPECT_EQ(s.unseen_closes, 1);
  ASSERT_EQ(s.stacks.size(), 1u);  // resource lines are not heap stacks
  ASSERT_EQ(s.resources.size(), 3u);
  EXPECT_EQ(s.resources[0].kind, "tcp");
  EXPECT_EQ(s.resources[0].live, 243);
  EXPECT_EQ(s.resources[0].created, 250);
  EXPECT_EQ(s.resources[0].addrs, (std::vector<uint64_t>{0x555500001234, 0x555500001300}));
  EXPECT_TRUE(s.resources[1].addrs.empty());  // inherited
  EXPECT_EQ(s.resources[2].kind, "thread");
  EXPECT_EQ(s.resources[2].live, 0);
  EXPECT_EQ(s.resources[2].created, 7);
}

TEST(ResourceParser, TrackingOffIsNotTheSameAsNothingOpen) {
  Result<Snapshot> r = parse_snapshot(
      testing::leakprobe_text({}, 0x555500000000, "/opt/t/app", 100, "# leakprobe.resources: 0\n"),
      "off.heap");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().resources_tracked, false);
  Result<Snapshot> old = parse_snapshot(testing::leakprobe_text({}), "old.heap");
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_FALSE(old.value().resources_tracked.has_value());
}

struct Bad {
  const char* title;
  std::string meta;
  std::string message;
};

class ResourceParserRejects : public ::testing::TestWithParam<Bad> {};

TEST_P(ResourceParserRejects, WithLineAndReason) {
  Result<Snapshot> r = parse_snapshot(
      testing::leakprobe_text({}, 0x555500000000, "/opt/t/app", 100, GetParam().meta), "x.heap");
  ASSERT_FALSE(r.ok()) << GetParam().title;
  EXPECT_EQ(r.error().message, GetParam().message) << GetParam().title;
}

INSTANTIATE_TEST_SUITE_P(
    BadInput, ResourceParserRejects,
    ::testing::Values(
        Bad{"bytes",
            "# leakprobe.section: tcp\n#  1: 8 [1: 8] @ 0x1\n# leakprobe.end-section: tcp\n",
            "x.heap:7: resource line in section 'tcp' has non-zero byte counts (they are always "
            "0)"},
        Bad{"live above created",
            "# leakprobe.section: udp\n#  3: 0 [2: 0] @ 0x1\n# leakprobe.end-section: udp\n",
            "x.heap:7: resource line in section 'udp' has 3 live but only 2 created"},
        Bad{"malformed",
            "# leakprobe.section: pipe\n#  x: 0 [2: 0] @\n# leakprobe.end-section: pipe\n",
            "x.heap:7: malformed live object count 'x'"},
        Bad{"never ended", "# leakprobe.section: timer\n#  1: 0 [2: 0] @\n",
            "x.heap: section 'timer' is never ended"},
        Bad{"nested", "# leakprobe.section: timer\n# leakprobe.section: tcp\n",
            "x.heap:7: section 'tcp' starts inside section 'timer'"},
        Bad{"end without start", "# leakprobe.end-section: tcp\n",
            "x.heap:6: end of section 'tcp' without its start"},
        Bad{"bad flag", "# leakprobe.resources: 2\n",
            "x.heap:6: leakprobe.resources must be 0 or 1"},
        Bad{"bad untracked", "# leakprobe.untracked-fds: many\n",
            "x.heap:6: malformed leakprobe.untracked-fds value 'many' (expected an integer)"}),
    [](const ::testing::TestParamInfo<Bad>& info) {
      std::string name;
      for (const char* p = info.param.title; *p; ++p) name += std::isalnum(*p) ? *p : '_';
      return name;
    });

}  // namespace
}  // namespace leakprobe::analysis
