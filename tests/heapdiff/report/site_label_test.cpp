// One analysis rendered through every writer (text, JSON, HTML table, flame graph, pprof
// export, the resource text and HTML): each names every site with the fields site_label()
// decided (site_label.h). The analysis has the cases the writers used to spell differently:
// two overloads with the same short name, look-alike rows told apart by their caller's line,
// an unnamed function of a stripped binary, a frame without a symbol, and resource entries.
#include "leakprobe/analysis/site_label.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/report.h"
#include "leakprobe/analysis/report_pprof.h"
#include "test_snapshots.h"

namespace leakprobe::analysis {
namespace {

using testing::leakprobe_text;
using testing::must_parse;

constexpr uint64_t kApp = 0x555500000000;  // /opt/t/app: address kApp + X has offset X

symbolize::Frame fn(const std::string& name, const std::string& file, int line) {
  return symbolize::Frame{name, file, line, false};
}

// A snapshot of /opt/t/app with a resource section: TCP sockets created at `tcp_at` (return
// address), threads at `thread_at`.
Snapshot snapshot(const std::vector<testing::Line>& heap, int sockets, int threads) {
  std::string meta = "# leakprobe.resources: 1\n# leakprobe.untracked-fds: 0\n";
  meta += "# leakprobe.section: tcp\n#  " + std::to_string(sockets) + ": 0 [" +
          std::to_string(sockets) + ": 0] @ 0x555500001301 0x555500001601\n";
  meta += "# leakprobe.end-section: tcp\n";
  meta += "# leakprobe.section: thread\n#  " + std::to_string(threads) + ": 0 [" +
          std::to_string(threads) + ": 0] @ 0x555500001801\n# leakprobe.end-section: thread\n";
  return must_parse(leakprobe_text(heap, kApp, "/opt/t/app", 100, meta));
}

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

class SiteLabels : public ::testing::Test {
 protected:
  void SetUp() override {
    symbols_[0x1300] = {fn("repro::put(int)", "/src/put.cpp", 2)};
    symbols_[0x1400] = {fn("repro::put(long)", "/src/put.cpp", 3)};
    symbols_[0x1500] = {fn("repro::store(int)", "/src/store.cpp", 5)};
    symbols_[0x1600] = {fn("repro::caller()", "/src/c.cpp", 10)};
    symbols_[0x1610] = {fn("repro::caller()", "/src/c.cpp", 11)};
    symbolize::Frame unnamed{"app!fn@0x1700", "", 0, false};
    unnamed.unnamed = true;
    symbols_[0x1700] = {unnamed};
    // 0x1800: no symbol at all.
    before_ = snapshot({}, 1, 1);
    after_ = snapshot({{1, 700, 1, 700, {kApp + 0x1301}},
                       {1, 600, 1, 600, {kApp + 0x1401}},
                       {1, 500, 1, 500, {kApp + 0x1501, kApp + 0x1601}},
                       {1, 400, 1, 400, {kApp + 0x1501, kApp + 0x1611}},
                       {1, 300, 1, 300, {kApp + 0x1701, kApp + 0x1601}},
                       {1, 200, 1, 200, {kApp + 0x1801}}},
                      9, 4);
    Options options;
    options.keep_changed_stacks = true;
    Result<Analysis> r = analyze({&before_, &after_}, source(), options);
    ASSERT_TRUE(r.ok()) << r.error().message;
    analysis_ = std::move(r).value();
  }

  SymbolSource source() {
    return [this](const symbolize::ModuleRef& m, uint64_t off) {
      auto it = symbols_.find(off);
      return m.path != "/opt/t/app" || it == symbols_.end() ? std::vector<symbolize::Frame>{}
                                                            : it->second;
    };
  }

  std::map<uint64_t, std::vector<symbolize::Frame>> symbols_;
  Snapshot before_, after_;
  Analysis analysis_;
};

TEST_F(SiteLabels, AreDecidedOnceForTheCasesTheWritersUsedToSpellDifferently) {
  const Analysis& a = analysis_;
  const NamePrinter name(a, false);
  ASSERT_EQ(a.entries.size(), 6u);
  std::vector<std::string> lines;
  for (const Entry& e : a.entries) lines.push_back(site_label(e, name).text());
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "repro::put(int) src/put.cpp:2",
                       "repro::put(long) src/put.cpp:3",
                       "repro::store src/store.cpp:5 via repro::caller c.cpp:10",
                       "repro::store src/store.cpp:5 via repro::caller c.cpp:11",
                       "app!fn@0x1700 (unnamed, called from repro::caller)",
                       "app+0x1800",
                   }));
  EXPECT_EQ(site_label(a.entries[4], name).kind, SiteLabel::Kind::kFunction);
  EXPECT_TRUE(site_label(a.entries[4], name).tail_tells_apart);
  EXPECT_EQ(site_label(a.entries[5], name).kind, SiteLabel::Kind::kAddress);

  ASSERT_EQ(a.resources.entries.size(), 2u);
  EXPECT_EQ(site_label(a.resources.entries[0], name).text(), "repro::put(int) src/put.cpp:2");
  EXPECT_EQ(site_label(a.resources.entries[1], name).text(), "app+0x1800");
}

TEST_F(SiteLabels, EveryWriterRendersTheSameFields) {
  const Analysis& a = analysis_;
  const NamePrinter name(a, false);
  std::ostringstream text, html, json;
  write_text_report(text, a, ReportContext{});
  write_html_report(html, a, ReportContext{});
  write_json_report(json, a, ReportContext{});
  const nlohmann::json doc = nlohmann::json::parse(json.str());
  pprof::Profile profile;
  build_pprof_profile(a, profile);
  std::set<std::string> pprof_functions;
  for (const auto& f : profile.function())
    pprof_functions.insert(pprof::string_at(profile, f.name()));
  // The flame graph's rows, from the page: [short function, function, file:line, ...].
  const std::string page = html.str();
  const std::string open = "<script id=\"flame-data\" type=\"application/json\">";
  const size_t start = page.find(open);
  ASSERT_NE(start, std::string::npos);
  const size_t end = page.find("</script>", start);
  const nlohmann::json flame =
      nlohmann::json::parse(page.substr(start + open.size(), end - start - open.size()));

  ASSERT_EQ(doc["entries"].size(), a.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry& e = a.entries[i];
    const SiteLabel l = site_label(e, name);
    SCOPED_TRACE(l.text());
    // Text table: function, two spaces, location; then tell and note.
    const std::string in_text =
        l.function + (l.location.empty() ? "" : "  " + l.location) + l.tell + l.note + "\n";
    EXPECT_NE(text.str().find(in_text), std::string::npos) << text.str();
    // HTML table: the same fields, escaped, in their spans.
    EXPECT_NE(page.find(">" + esc(l.function) + "</span>"), std::string::npos);
    if (!l.location.empty()) {
      EXPECT_NE(page.find(">" + esc(l.location) + "</span>"), std::string::npos);
    }
    const std::string note = l.tell + l.note;
    if (!note.empty()) {
      EXPECT_NE(page.find("<span class=\"loc\">" + esc(note.substr(1)) + "</span>"),
                std::string::npos);
    }
    // JSON: the label object.
    const nlohmann::json& jl = doc["entries"][i]["label"];
    EXPECT_EQ(jl["function"], l.function);
    EXPECT_EQ(jl["location"], l.location);
    EXPECT_EQ(jl["tell"], l.tell.empty() ? "" : l.tell.substr(1));
    EXPECT_EQ(jl["note"], l.note.empty() ? "" : l.note.substr(1));
    // Flame graph: the site's row has the table's name (and the full name beside it).
    bool in_flame = false;
    for (const auto& row : flame["rows"]) {
      in_flame = in_flame || (row[0] == l.function && row[1] == e.site.function);
    }
    EXPECT_TRUE(in_flame) << flame["rows"].dump();
    // pprof export: the full name (pprof shortens names itself), or the same module+offset.
    EXPECT_EQ(pprof_functions.count(e.site.function.empty() ? l.function : e.site.function), 1u);
  }

  // Resources: the text ("from <label>") and the HTML table carry the same label.
  ASSERT_EQ(doc["resources"].size(), a.resources.entries.size());
  for (size_t i = 0; i < a.resources.entries.size(); ++i) {
    const SiteLabel l = site_label(a.resources.entries[i], name);
    SCOPED_TRACE(l.text());
    EXPECT_NE(text.str().find(" from " + l.text() + "  ("), std::string::npos) << text.str();
    const size_t section = page.find("<section id=\"resources\">");
    ASSERT_NE(section, std::string::npos);
    EXPECT_NE(page.find(">" + esc(l.function) + "</span>", section), std::string::npos);
    EXPECT_EQ(doc["resources"][i]["label"]["function"], l.function);
    EXPECT_EQ(doc["resources"][i]["label"]["location"], l.location);
  }
}

// --full-names: the whole function and path, in the text table as in the label.
TEST_F(SiteLabels, FullNamesKeepTheWholeFunctionAndPath) {
  const NamePrinter full(analysis_, true);
  const SiteLabel l = site_label(analysis_.entries[2], full);
  EXPECT_EQ(l.function, "repro::store(int)");
  EXPECT_EQ(l.location, "/src/store.cpp:5");
  EXPECT_EQ(l.tell, " via repro::caller() c.cpp:10");
  ReportContext ctx;
  ctx.full_names = true;
  std::ostringstream text;
  write_text_report(text, analysis_, ctx);
  EXPECT_NE(text.str().find(l.function + "  " + l.location + l.tell + "\n"), std::string::npos)
      << text.str();
}

}  // namespace
}  // namespace leakprobe::analysis
