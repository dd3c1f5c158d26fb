// heapdiff --pprof: the profile built from the changed stacks (what `go tool pprof` reads is
// checked against Debian's mosquitto in tests/html/mosquitto_reports.sh).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "change_fixture.h"
#include "leakprobe/analysis/report_pprof.h"

namespace leakprobe::analysis {
namespace {

using testing::ChangeFixture;

const std::string& str(const pprof::Profile& p, int64_t i) { return pprof::string_at(p, i); }

// Function names of a sample, leaf first, inlined rows before their caller.
std::vector<std::string> names(const pprof::Profile& p, const perftools::profiles::Sample& s) {
  std::vector<std::string> out;
  for (uint64_t id : s.location_id()) {
    const auto& loc = p.location(static_cast<int>(id - 1));
    EXPECT_EQ(loc.id(), id);
    for (const auto& line : loc.line()) {
      const auto& fn = p.function(static_cast<int>(line.function_id() - 1));
      out.push_back(str(p, fn.name()) + ":" + std::to_string(line.line()));
    }
  }
  return out;
}

TEST(PprofExport, DeltaInuseSpaceAndObjectsPerChangedStackWithOurNames) {
  const ChangeFixture f;
  pprof::Profile p;
  build_pprof_profile(f.analyze_all(), p);
  std::string error;
  ASSERT_TRUE(pprof::validate_profile(p, error)) << error;

  ASSERT_EQ(p.sample_type_size(), 2);
  EXPECT_EQ(str(p, p.sample_type(0).type()), "inuse_objects");
  EXPECT_EQ(str(p, p.sample_type(1).type()), "inuse_space");
  EXPECT_EQ(str(p, p.sample_type(1).unit()), "bytes");
  EXPECT_EQ(str(p, p.default_sample_type()), "inuse_space");

  ASSERT_EQ(p.sample_size(), 2);  // the unchanged stack is not a sample
  EXPECT_EQ(p.sample(0).value(0), 30);
  EXPECT_EQ(p.sample(0).value(1), 3000);
  EXPECT_EQ(p.sample(1).value(1), -1000);  // shrinkage stays negative, as in pprof -diff_base
  // malloc is folded away; open_session was inlined into accept_client at one address.
  EXPECT_EQ(names(p, p.sample(0)), (std::vector<std::string>{"open_session:12", "accept_client:40",
                                                             "serve:90", "main:3"}));

  ASSERT_EQ(p.mapping_size(), 1);
  const auto& m = p.mapping(0);
  EXPECT_EQ(str(p, m.filename()), "/opt/t/app");
  EXPECT_TRUE(m.has_functions());  // so pprof does not try to symbolize on its own
  EXPECT_TRUE(m.has_filenames());
  EXPECT_TRUE(m.has_line_numbers());
  EXPECT_TRUE(m.has_inline_frames());
  for (const auto& loc : p.location()) {
    EXPECT_GE(loc.address(), m.memory_start());
    EXPECT_LT(loc.address(), m.memory_limit());
  }
}

TEST(PprofExport, UnsymbolizedFramesAreNamedModulePlusOffset) {
  const ChangeFixture f;
  pprof::Profile p;
  build_pprof_profile(f.analyze_all(true, /*with_symbols=*/false), p);
  std::string error;
  ASSERT_TRUE(pprof::validate_profile(p, error)) << error;
  ASSERT_GE(p.sample_size(), 1);
  const std::vector<std::string> n = names(p, p.sample(0));
  ASSERT_FALSE(n.empty());
  EXPECT_EQ(n.front(), "app+0x1100:0");  // nothing folded without symbols: malloc's frame
}

TEST(PprofExport, WritesAGzippedFileThatReadsBack) {
  const ChangeFixture f;
  const Analysis a = f.analyze_all();
  const std::string path = ::testing::TempDir() + "/heapdiff_pprof_export_test.pb.gz";
  ASSERT_FALSE(write_pprof_report(path, a).has_value());
  pprof::Profile back;
  std::string error;
  ASSERT_TRUE(pprof::read_profile_file(path, back, error)) << error;
  EXPECT_EQ(back.sample_size(), 2);
  const std::optional<Error> e = write_pprof_report("/nonexistent/dir/x.pb.gz", a);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find("/nonexistent/dir/x.pb.gz"), std::string::npos);
}

}  // namespace
}  // namespace leakprobe::analysis
