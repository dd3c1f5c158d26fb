// The 120-column table never cuts what tells two rows apart (issue 24 item 4): in a sampled
// trend table the site column is 24 columns wide, and "handle__connect at +0…" and
// "fn@0x21…" told nothing apart.
#include <gtest/gtest.h>

#include <sstream>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/report.h"

namespace leakprobe::analysis {
namespace {

Entry entry(const std::string& function, bool unnamed, uint64_t offset) {
  Entry e;
  e.key.kind = GroupKey::Kind::kFunction;
  e.key.function = function;
  e.key.unnamed = unnamed;
  e.site.function = function;
  e.site.module = "/usr/sbin/mosquitto";
  e.site.offset = offset;
  e.site.unnamed = unnamed;
  e.series = {Counts{}, Counts{1, 1000, 1, 1000, 1}, Counts{2, 2000, 2, 2000, 2}};
  e.trend = Trend::kGrowing;
  Uncertainty u;
  u.samples = 2;
  u.low = 100;
  u.high = 9000;
  e.sampled = u;
  e.frames = {e.site};
  return e;
}

// A sampled trend report over three snapshots with `entries` listed.
std::string table_of(std::vector<Entry> entries) {
  Analysis a;
  a.trend_mode = true;
  a.sampling = 524288;
  for (int i = 0; i < 3; ++i) {
    InputInfo in;
    in.name = std::to_string(i) + ".heap";
    in.flavour = Flavour::kLeakprobe;
    a.inputs.push_back(in);
    a.totals.push_back(entries.front().series[static_cast<size_t>(i)]);
  }
  a.entries = std::move(entries);
  a.changed = a.entries.size();
  std::ostringstream out;
  ReportContext ctx;
  ctx.brief = true;
  write_text_report(out, a, ctx);
  return out.str();
}

}  // namespace

TEST(TableWidth, TheOffsetThatTellsTwoRowsApartIsNeverCut) {
  Entry a = entry("handle__connect", false, 0x21a3f);
  Entry b = entry("handle__connect", false, 0x21b80);
  a.distinction.kind = b.distinction.kind = Distinction::Kind::kOffset;
  a.distinction.row = a.site;
  b.distinction.row = b.site;
  const std::string text = table_of({a, b});
  EXPECT_NE(text.find("handle__connect at +0x21a3f"), std::string::npos) << text;
  EXPECT_NE(text.find("handle__connect at +0x21b80"), std::string::npos) << text;
}

TEST(TableWidth, UnnamedFunctionsKeepTheirAddress) {
  const std::string text =
      table_of({entry("/usr/lib/x86_64-linux-gnu/libmosquitto.so.1!fn@0x21af0", true, 0x21b00),
                entry("/usr/lib/x86_64-linux-gnu/libmosquitto.so.1!fn@0x21c40", true, 0x21c50)});
  EXPECT_NE(text.find("fn@0x21af0"), std::string::npos) << text;
  EXPECT_NE(text.find("fn@0x21c40"), std::string::npos) << text;
}

}  // namespace leakprobe::analysis
