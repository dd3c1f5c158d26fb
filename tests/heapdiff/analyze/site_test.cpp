// The site is where the program's own code allocated (past the allocator and the C/C++
// runtime), and the text report prints it short and within 120 columns.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/names.h"
#include "leakprobe/analysis/report.h"
#include "leakprobe/analysis/warnings.h"
#include "test_snapshots.h"

namespace leakprobe::analysis {
namespace {

using testing::leakprobe_text;
using testing::must_parse;

constexpr uint64_t kApp = 0x555500000000;     // /opt/t/app: address kApp + X has offset X
constexpr uint64_t kStdcxx = 0x7f1000000000;  // /opt/t/libstdc++.so.6: kStdcxx + X -> offset X
constexpr uint64_t kLibc = 0x7f2000000000;    // /opt/t/libc.so.6: same

// leakprobe_text's snapshot with libstdc++ and libc mapped too.
std::string with_runtime(const std::vector<testing::Line>& lines) {
  std::string t = leakprobe_text(lines);
  const std::string maps =
      "7f1000000000-7f1000100000 r-xp 00000000 fd:01 9 /opt/t/libstdc++.so.6\n"
      "7f2000000000-7f2000100000 r-xp 00000000 fd:01 10 /opt/t/libc.so.6\n";
  t.insert(t.find("# leakprobe.end"), maps);
  return t;
}

symbolize::Frame fn(const std::string& name, const std::string& file = "", int line = 0,
                    bool inlined = false) {
  return symbolize::Frame{name, file, line, inlined};
}

const std::string kString =
    "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >";

// Symbols per (module path, offset of the call).
struct Symbols {
  std::map<std::pair<std::string, uint64_t>, std::vector<symbolize::Frame>> table;
  SymbolSource source() {
    return [this](const symbolize::ModuleRef& m, uint64_t off) {
      auto it = table.find({m.path, off});
      return it == table.end() ? std::vector<symbolize::Frame>{} : it->second;
    };
  }
};

struct SiteFixture : ::testing::Test {
  Symbols syms;
  Snapshot before = must_parse(with_runtime({}));
  Snapshot after;
  void SetUp() override {
    syms.table[{"/opt/t/libc.so.6", 0x100}] = {fn("malloc")};
    syms.table[{"/opt/t/libstdc++.so.6", 0x200}] = {fn("operator new(unsigned long)")};
    syms.table[{"/opt/t/libstdc++.so.6", 0x300}] = {
        fn(kString + "::_M_mutate(unsigned long, unsigned long, char const*, unsigned long)")};
    syms.table[{"/opt/t/libstdc++.so.6", 0x400}] = {
        fn(kString + "::_M_assign(" + kString + " const&)")};
    // A std::vector member inlined into the program's function: same address, two rows.
    syms.table[{"/opt/t/app", 0x1100}] = {
        fn("void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>("
           "__gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > >, int "
           "const&)",
           "/usr/include/c++/12/bits/vector.tcc", 512, true),
        fn("repro::Registry::add(int)", "/src/repro/registry.cpp", 30)};
    syms.table[{"/opt/t/app", 0x1200}] = {
        fn("repro::open_device_session(repro::CommonOptions const&, " + kString + " const&)",
           "/work/main/reproducers/unclosed_connections/gateway.cpp", 14)};
    syms.table[{"/opt/t/app", 0x1300}] = {fn("main", "/src/main.cpp", 5)};
    syms.table[{"/opt/t/libc.so.6", 0x500}] = {fn("__libc_start_main")};
    syms.table[{"/opt/t/libc.so.6", 0x600}] = {fn("qsort")};
    after = must_parse(with_runtime({
        // malloc <- new <- _M_mutate <- _M_assign <- open_device_session <- main
        {130,
         3994,
         130,
         3994,
         {kLibc + 0x101, kStdcxx + 0x201, kStdcxx + 0x301, kStdcxx + 0x401, kApp + 0x1201,
          kApp + 0x1301, kLibc + 0x501}},
        // malloc <- [inlined vector::_M_realloc_insert] Registry::add <- main
        {2, 80000, 2, 80000, {kLibc + 0x101, kApp + 0x1101, kApp + 0x1301}},
        // runtime all the way: malloc <- qsort <- __libc_start_main (no program frame)
        {1, 50, 1, 50, {kLibc + 0x101, kLibc + 0x601, kLibc + 0x501}},
    }));
  }
  Analysis run(Options opts = {}) {
    Result<Analysis> r = analyze({&before, &after}, syms.source(), opts);
    EXPECT_TRUE(r.ok());
    return std::move(r).value();
  }
  std::string text(const Analysis& a, ReportContext ctx = {}) {
    std::ostringstream out;
    write_text_report(out, a, ctx);
    return out.str();
  }
};

TEST_F(SiteFixture, SiteSkipsTheCxxRuntimeAndKeepsEveryFrame) {
  const Analysis r = run();
  ASSERT_EQ(r.entries.size(), 3u);
  const Entry& e = r.entries[1];  // 3994 B
  EXPECT_EQ(e.site.function.substr(0, 27), "repro::open_device_session(");
  EXPECT_EQ(e.site.line, 14);
  EXPECT_EQ(e.folded, 2u);      // malloc, operator new
  EXPECT_EQ(e.site_frame, 2u);  // _M_mutate and _M_assign are listed before it
  ASSERT_EQ(e.frames.size(), 5u);
  EXPECT_EQ(e.frames[0].function.substr(0, 13), "std::__cxx11:");
  EXPECT_EQ(e.key.text().substr(e.key.text().size() - 14), "gateway.cpp:14");
}

TEST_F(SiteFixture, SiteSkipsStdFunctionsInlinedIntoTheProgram) {
  const Analysis r = run();
  const Entry& e = r.entries[0];
  EXPECT_EQ(e.site.function, "repro::Registry::add(int)");
  EXPECT_EQ(e.site_frame, 1u);
  EXPECT_TRUE(e.frames[0].inlined);
}

TEST_F(SiteFixture, OnlyRuntimeFramesKeepTheFirstUnfoldedOne) {
  const Analysis r = run();
  const Entry& e = r.entries[2];
  EXPECT_EQ(e.site.function, "qsort");
  EXPECT_EQ(e.site_frame, 0u);
}

TEST_F(SiteFixture, GroupingByFunctionAndLineUsesTheSite) {
  Options opts;
  opts.by = GroupBy::kFunction;
  Analysis r = run(opts);
  ASSERT_EQ(r.entries.size(), 3u);
  EXPECT_EQ(r.entries[1].key.text().substr(0, 27), "repro::open_device_session(");
  opts.by = GroupBy::kLine;
  r = run(opts);
  EXPECT_EQ(r.entries[0].key.text(), "repro::Registry::add(int) /src/repro/registry.cpp:30");
}

TEST_F(SiteFixture, TextReportShowsShortNamesAndMarksTheSite) {
  const std::string t = text(run());
  EXPECT_NE(t.find("  repro::open_device_session  unclosed_connections/gateway.cpp:14\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("  repro::Registry::add  repro/registry.cpp:30\n"), std::string::npos) << t;
  // The stack listing: short names, full paths, the site marked.
  EXPECT_NE(t.find("      std::string::_M_assign  (/opt/t/libstdc++.so.6+0x400)\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("   -> repro::open_device_session — "
                   "/work/main/reproducers/unclosed_connections/gateway.cpp:14  "
                   "(/opt/t/app+0x1200)\n"),
            std::string::npos)
      << t;
  EXPECT_EQ(t.find("basic_string"), std::string::npos) << t;
  EXPECT_EQ(t.find("CommonOptions"), std::string::npos) << t;
}

TEST_F(SiteFixture, FullNamesOptionPrintsTheDemangledText) {
  ReportContext ctx;
  ctx.full_names = true;
  const std::string t = text(run(), ctx);
  EXPECT_NE(t.find("repro::open_device_session(repro::CommonOptions const&, " + kString +
                   " const&) — /work/main/reproducers/unclosed_connections/gateway.cpp:14"),
            std::string::npos)
      << t;
}

// Every table row fits 120 columns (counting "Δ" as one); --wide keeps whole sites.
TEST_F(SiteFixture, TableFitsTheWidthUnlessWide) {
  ReportContext ctx;
  ctx.full_names = true;  // long enough to need cutting
  const std::string t = text(run(), ctx);
  std::istringstream lines(t);
  std::string line;
  bool in_table = false;
  size_t rows = 0;
  size_t cut = 0;
  size_t checked = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("  rank", 0) == 0) in_table = true;
    if (in_table && line.empty()) break;
    if (!in_table) continue;
    size_t cols = 0;
    for (char c : line) cols += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    EXPECT_LE(cols, kTextReportWidth) << line;
    ++rows;
    if (line.find("…") != std::string::npos) {
      ++cut;
      // Both parts survive a cut: some of the function, the end of the path with the line.
      if (line.find("repro::open_device_") != std::string::npos) {
        ++checked;
        EXPECT_NE(line.find("  repro::open_device_session(repr…  …"), std::string::npos) << line;
        const std::string end = "…/unclosed_connections/gateway.cpp:14";
        EXPECT_EQ(line.substr(line.size() - end.size()), end) << line;
      }
    }
  }
  EXPECT_EQ(rows, 4u);  // header + 3 entries
  EXPECT_GE(cut, 1u);
  EXPECT_EQ(checked, 1u);

  ctx.wide = true;
  const std::string w = text(run(), ctx);
  EXPECT_EQ(w.find("…"), std::string::npos);
  EXPECT_NE(
      w.find(kString + " const&)  /work/main/reproducers/unclosed_connections/gateway.cpp:14"),
      std::string::npos)
      << w;
}

// A long short name is cut before its location, which stays readable.
TEST(ReportNames, LongFunctionsAreCutBeforeTheLocation) {
  Symbols syms;
  const std::string ns = "repro::an_unusually_long_namespace_name::and_another_nested_one::";
  syms.table[{"/opt/t/app", 0x1100}] = {
      fn(ns + "with_a_long_function_name_too(int)", "/src/dir/file.cpp", 7)};
  const Snapshot before = must_parse(with_runtime({}));
  const Snapshot after = must_parse(with_runtime({{1, 400, 1, 400, {kApp + 0x1101}}}));
  Result<Analysis> r = analyze({&before, &after}, syms.source(), Options{});
  ASSERT_TRUE(r.ok());
  std::ostringstream out;
  write_text_report(out, r.value(), ReportContext{});
  const std::string t = out.str();
  const size_t row = t.find("\n     1 ");
  ASSERT_NE(row, std::string::npos) << t;
  const std::string line = t.substr(row + 1, t.find('\n', row + 1) - row - 1);
  const std::string tail = "…  dir/file.cpp:7";
  ASSERT_GT(line.size(), tail.size());
  EXPECT_EQ(line.substr(line.size() - tail.size()), tail) << line;
  EXPECT_NE(line.find("  repro::an_unusually_long_namespace_name::and_an"), std::string::npos);
  size_t cols = 0;
  for (char c : line) cols += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  EXPECT_EQ(cols, kTextReportWidth) << line;
}

// Two overloads would print the same short name: they keep enough to tell them apart.
TEST(ReportNames, CollidingShortNamesAreDisambiguated) {
  Symbols syms;
  syms.table[{"/opt/t/app", 0x1100}] = {fn("repro::Pool<repro::Session>::get(int)", "/p.cpp", 1)};
  syms.table[{"/opt/t/app", 0x1200}] = {fn("repro::Pool<repro::Device>::get(int)", "/p.cpp", 1)};
  syms.table[{"/opt/t/app", 0x1300}] = {fn("repro::put(int)", "/p.cpp", 2)};
  syms.table[{"/opt/t/app", 0x1400}] = {fn("repro::put(long)", "/p.cpp", 3)};
  const Snapshot before = must_parse(with_runtime({}));
  const Snapshot after = must_parse(with_runtime({{1, 400, 1, 400, {kApp + 0x1101}},
                                                  {1, 300, 1, 300, {kApp + 0x1201}},
                                                  {1, 200, 1, 200, {kApp + 0x1301}},
                                                  {1, 100, 1, 100, {kApp + 0x1401}}}));
  Result<Analysis> r = analyze({&before, &after}, syms.source(), Options{});
  ASSERT_TRUE(r.ok());
  std::ostringstream out;
  write_text_report(out, r.value(), ReportContext{});
  const std::string t = out.str();
  EXPECT_NE(t.find("  repro::Pool<repro::Session>::get  /p.cpp:1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("  repro::Pool<repro::Device>::get  /p.cpp:1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("  repro::put(int)  /p.cpp:2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("  repro::put(long)  /p.cpp:3\n"), std::string::npos) << t;
}

TEST(Warnings, NoDebugInfoWarningsBecomeOneLine) {
  using Sym = symbolize::Warning;
  const std::vector<Sym> in = {
      {Sym::Kind::kNoDebugInfo, "/usr/lib/x86_64-linux-gnu/libmosquitto.so.2.0.11", "", "", ""},
      {Sym::Kind::kBuildIdMismatch, "/usr/sbin/mosquitto", "", "ab", "cd"},
      {Sym::Kind::kNoDebugInfo, "/usr/lib/x86_64-linux-gnu/libboost_program_options.so.1.74.0", "",
       "", ""},
      {Sym::Kind::kNoSymbols, "/opt/x/libz.so.1", "", "", ""},
      {Sym::Kind::kUnreadable, "/opt/golden/sbin/broker", "No such file or directory", "", ""},
  };
  std::vector<Warning> out;
  add_symbolizer_warnings(in, out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].kind, Warning::Kind::kNoDebugInfo);
  EXPECT_EQ(out[0].subjects.size(), 2u);
  EXPECT_EQ(warning_text(out[0]),
            "warning: no debug info (the report shows their function names only, no file:line) "
            "for: libmosquitto.so.2.0.11, libboost_program_options.so.1.74.0; to get it, set "
            "DEBUGINFOD_URLS (e.g. https://debuginfod.debian.net) or install the -dbgsym "
            "packages from the debian-debug archive (`dpkg -S FILE` names a file's package: "
            "mosquitto's is mosquitto-dbgsym), or pass --debug-dir");
  EXPECT_EQ(warning_text(out[1]), "warning: " + symbolize::message(in[1]));
  EXPECT_EQ(warning_text(out[2]),
            "warning: no symbols or debug info (their frames are shown as module+0xoffset) for: "
            "libz.so.1; to get it, set DEBUGINFOD_URLS (e.g. https://debuginfod.debian.net) or "
            "install the -dbgsym packages from the debian-debug archive (`dpkg -S FILE` names a "
            "file's package: mosquitto's is mosquitto-dbgsym), or pass --debug-dir");
  EXPECT_EQ(warning_text(out[3]), "warning: " + symbolize::message(in[4]));
  std::vector<Warning> none;
  add_symbolizer_warnings({}, none);
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace leakprobe::analysis

namespace leakprobe::analysis {
namespace {

// One analysis through every writer: the site's name, what tells look-alike rows apart and the
// unnamed note come out the same in the text table, the HTML table and the JSON (site_label.h).
TEST(SiteLabel, EveryWriterPrintsTheSameLabel) {
  Symbols syms;
  syms.table[{"/opt/t/app", 0x1300}] = {fn("repro::put(int)", "/p.cpp", 2)};
  syms.table[{"/opt/t/app", 0x1400}] = {fn("repro::put(long)", "/p.cpp", 3)};
  syms.table[{"/opt/t/app", 0x1500}] = {fn("repro::store(int)", "/src/s.cpp", 5)};
  syms.table[{"/opt/t/app", 0x1600}] = {fn("repro::caller()", "/src/c.cpp", 10)};
  syms.table[{"/opt/t/app", 0x1610}] = {fn("repro::caller()", "/src/c.cpp", 11)};
  const Snapshot before = must_parse(with_runtime({}));
  const Snapshot after =
      must_parse(with_runtime({{1, 400, 1, 400, {kApp + 0x1301}},
                               {1, 300, 1, 300, {kApp + 0x1401}},
                               {1, 200, 1, 200, {kApp + 0x1501, kApp + 0x1601}},
                               {1, 100, 1, 100, {kApp + 0x1501, kApp + 0x1611}}}));
  Options options;
  options.keep_changed_stacks = true;
  Result<Analysis> r = analyze({&before, &after}, syms.source(), options);
  ASSERT_TRUE(r.ok());
  const Analysis& a = r.value();
  ASSERT_EQ(a.entries.size(), 4u);
  std::ostringstream text, html, json;
  write_text_report(text, a, ReportContext{});
  write_html_report(html, a, ReportContext{});
  write_json_report(json, a, ReportContext{});
  const NamePrinter name(a, false);
  const std::string want[][2] = {{"repro::put(int)", ""},
                                 {"repro::put(long)", ""},
                                 {"repro::store", " via repro::caller c.cpp:10"},
                                 {"repro::store", " via repro::caller c.cpp:11"}};
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry& e = a.entries[i];
    EXPECT_EQ(name(e.key.function), want[i][0]);
    EXPECT_EQ(site_tell(e, name) + site_note(e, name), want[i][1]);
    // The text table: name, location, note.
    EXPECT_NE(text.str().find(want[i][0] + "  " + short_path(e.key.file, 2) + ":" +
                              std::to_string(e.key.line) + want[i][1] + "\n"),
              std::string::npos)
        << text.str();
    // The HTML table: the same name and the same note (before, it dropped the caller's line
    // and printed both overloads as repro::put).
    EXPECT_NE(html.str().find(">" + want[i][0] + "</span>"), std::string::npos) << want[i][0];
    if (!want[i][1].empty()) {
      EXPECT_NE(html.str().find("<span class=\"loc\">" + want[i][1].substr(1) + "</span>"),
                std::string::npos)
          << want[i][1];
    }
  }
  // The JSON carries the parts: the caller row that tells the look-alikes apart.
  EXPECT_NE(json.str().find("\"function\": \"repro::caller()\""), std::string::npos);
}

}  // namespace
}  // namespace leakprobe::analysis
