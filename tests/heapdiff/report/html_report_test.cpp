// The data behind heapdiff --html: the changed stacks analyze() keeps, the flame tree built from
// them (widths, net change, sites, pruning) and the page's embedding rules. What the page does
// with them in a browser is tested in tests/html.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "change_fixture.h"
#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/flame_tree.h"
#include "leakprobe/analysis/report.h"

namespace leakprobe::analysis {
namespace {

using testing::ChangeFixture;

TEST(ChangedStacks, KeepsEveryChangedStackWithTheAllocatorFolded) {
  const ChangeFixture f;
  EXPECT_TRUE(f.analyze_all(false).changed_stacks.stacks.empty());  // only on request
  const Analysis a = f.analyze_all();
  const ChangedStacks& cs = a.changed_stacks;
  ASSERT_EQ(cs.stacks.size(), 2u);  // the unchanged stack is not kept
  const ChangedStack& grew = cs.stacks[0];
  EXPECT_EQ(grew.delta.live_bytes, 3000);
  EXPECT_EQ(grew.delta.live_objs, 30);
  ASSERT_EQ(grew.frames.size(), 3u);  // malloc's frame left out
  EXPECT_EQ(grew.skip_rows, 0u);
  EXPECT_EQ(grew.site_row, 0u);
  const ChangedFrame& first = cs.frames[grew.frames[0]];
  EXPECT_EQ(first.module, "/opt/t/app");
  EXPECT_EQ(first.offset, 0x1200u);
  ASSERT_EQ(first.rows.size(), 2u);
  EXPECT_EQ(first.rows[0].function, "open_session");
  EXPECT_TRUE(first.rows[0].inlined);
  EXPECT_EQ(cs.frames[grew.frames[2]].rows[0].function, "main");
  EXPECT_EQ(cs.stacks[1].delta.live_bytes, -1000);
  // Frames are shared between stacks: serve and main appear once.
  EXPECT_EQ(cs.frames.size(), 4u);
}

TEST(FlameTree, WidthIsTheSizeOfTheChangeAndTheNetChangeRidesAlong) {
  const ChangeFixture f;
  const FlameTree t = build_flame_tree(f.analyze_all().changed_stacks, 0);
  const FlameNode& root = t.nodes[0];
  EXPECT_EQ(root.width, 4000);  // 3000 grown + 1000 shrunk
  EXPECT_EQ(root.net_bytes, 2000);
  EXPECT_EQ(root.net_objs, 20);
  EXPECT_EQ(root.stacks, 2u);
  // Outermost first: root -> main -> serve -> {accept_client -> open_session, close_cache}.
  ASSERT_EQ(root.children.size(), 1u);
  const FlameNode& main_node = t.nodes[root.children[0]];
  EXPECT_EQ(t.rows[static_cast<size_t>(main_node.row)].function, "main");
  const FlameNode& serve = t.nodes[main_node.children.at(0)];
  ASSERT_EQ(serve.children.size(), 2u);
  const FlameNode& accept = t.nodes[serve.children[0]];  // widest first
  const FlameNode& cache = t.nodes[serve.children[1]];
  EXPECT_EQ(t.rows[static_cast<size_t>(accept.row)].function, "accept_client");
  EXPECT_EQ(accept.width, 3000);
  EXPECT_FALSE(accept.site);
  const FlameNode& open = t.nodes[accept.children.at(0)];
  EXPECT_EQ(t.rows[static_cast<size_t>(open.row)].function, "open_session");
  EXPECT_TRUE(open.site);
  EXPECT_EQ(open.net_bytes, 3000);
  EXPECT_TRUE(open.children.empty());  // malloc folded away
  EXPECT_EQ(cache.width, 1000);
  EXPECT_EQ(cache.net_bytes, -1000);
  EXPECT_EQ(cache.net_objs, -10);
  EXPECT_TRUE(cache.site);
  EXPECT_EQ(t.pruned, 0u);
}

TEST(FlameTree, NarrowCallsAreMergedPerParentAndKeepTheirSums) {
  const ChangeFixture f;
  // 1000 of 4000 is a quarter: below a share of 0.3, close_cache is merged.
  const FlameTree t = build_flame_tree(f.analyze_all().changed_stacks, 0.3);
  const FlameNode& serve = t.nodes[t.nodes[t.nodes[0].children[0]].children[0]];
  ASSERT_EQ(serve.children.size(), 2u);
  const FlameNode& merged = t.nodes[serve.children[1]];
  EXPECT_EQ(merged.row, -1);
  EXPECT_EQ(merged.merged, 1u);
  EXPECT_EQ(merged.width, 1000);
  EXPECT_EQ(merged.net_bytes, -1000);
  EXPECT_EQ(t.pruned, 1u);
  EXPECT_EQ(t.nodes[0].width, 4000);  // nothing lost at the root
}

TEST(FlameTree, JsonCannotCloseTheScriptElement) {
  ChangedStacks cs;
  ChangedFrame frame;
  frame.module = "/opt/t/app";
  frame.offset = 0x10;
  frame.rows.push_back(
      Row{"evil</script><script>alert(1)", "a\"b\\c.cpp", 1, false, "/opt/t/app", 0x10});
  cs.frames.push_back(frame);
  ChangedStack s;
  s.frames = {0};
  s.delta = Counts{1, 64, 1, 64};
  cs.stacks.push_back(s);
  std::ostringstream json;
  write_flame_json(json, build_flame_tree(cs, 0), NamePrinter(Analysis{}, false));
  EXPECT_EQ(json.str().find("</script"), std::string::npos);
  EXPECT_NE(json.str().find("evil\\u003c/script\\u003e"), std::string::npos);
  EXPECT_NE(json.str().find("a\\\"b\\\\c.cpp:1"), std::string::npos);
}

TEST(HtmlReport, IsOnePageWithTheLibrariesInlinedAndTheSameSites) {
  const ChangeFixture f;
  std::ostringstream page;
  ReportContext ctx;
  write_html_report(page, f.analyze_all(), ctx);
  const std::string html = page.str();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("https://d3js.org v7.9.0"), std::string::npos);  // d3 inlined
  EXPECT_NE(html.find("d3-flame-graph"), std::string::npos);
  // Self-contained: nothing is loaded from anywhere.
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("id=\"flame-data\""), std::string::npos);
  // The table's first site is the text report's first site.
  const size_t table = html.find("<table class=\"entries\"");
  ASSERT_NE(table, std::string::npos);
  EXPECT_LT(html.find("open_session", table), html.find("close_cache", table));
  EXPECT_NE(html.find("session.c:12", table), std::string::npos);
}

TEST(HtmlReport, SaysSoWhenNothingChanged) {
  const ChangeFixture f;
  Options o;
  o.keep_changed_stacks = true;
  Result<Analysis> r = analyze({&f.before, &f.before}, f.symbols, o);
  ASSERT_TRUE(r.ok());
  std::ostringstream page;
  write_html_report(page, r.value(), ReportContext{});
  EXPECT_NE(page.str().find("No call stack changed its live size."), std::string::npos);
  EXPECT_NE(page.str().find("No growth"), std::string::npos);
}

TEST(HtmlReport, ResourcesSectionRendersTheResourceReport) {
  Analysis a;
  a.inputs.resize(2);
  a.totals.assign(2, Counts{});
  ResourceReport& r = a.resources;
  r.mentioned = true;
  r.available = true;
  r.totals = {{"tcp", {5, 248}}};
  r.untracked_fds = {1, 1};
  r.growth = 243;
  r.changed = 1;
  ResourceEntry e;
  e.kind = "tcp";
  e.key = "connect_client net.c:36";
  e.live = {5, 248};
  e.created = {10, 300};
  e.site = Row{"connect_client", "src/net.c", 36, false, "/opt/t/app", 0x1233};
  e.frames = {e.site};
  r.entries.push_back(e);
  std::ostringstream page;
  write_html_report(page, a, ReportContext{});
  const std::string html = page.str();
  const size_t section = html.find("<section id=\"resources\">");
  ASSERT_NE(section, std::string::npos);
  EXPECT_NE(html.find("5 → 248", section), std::string::npos);
  EXPECT_NE(html.find(">+243</td><td>TCP sockets</td><td class=\"num\">290</td><td "
                      "class=\"num\">47</td>",
                      section),
            std::string::npos);
  EXPECT_NE(html.find("net.c:36", section), std::string::npos);

  r.available = false;
  r.why_not = "base.heap has no resource sections";
  std::ostringstream without;
  write_html_report(without, a, ReportContext{});
  EXPECT_NE(without.str().find("Not compared: base.heap has no resource sections"),
            std::string::npos);
  r.mentioned = false;  // no input knows about resources: no section at all
  std::ostringstream silent;
  write_html_report(silent, a, ReportContext{});
  EXPECT_EQ(silent.str().find("id=\"resources\""), std::string::npos);
}

TEST(HtmlReport, MemoryWaterfallComesFirstWhenRssGrewAndItsBarsAddUp) {
  const ChangeFixture f;
  Analysis a = f.analyze_all();
  MemoryAccount base, now;
  base.heap_known = now.heap_known = true;
  base.rss = 4 << 20;
  base.file = 3 << 20;
  base.other_anon = 1 << 20;
  now = base;
  now.heap_free_interior = 100 << 20;
  now.releasable = 90 << 20;
  now.rss += 100 << 20;
  a.memory = compare_memory(base, now, 7);
  ASSERT_EQ(a.memory->verdict, MemoryVerdict::kAllocatorRetention);
  std::ostringstream page;
  write_html_report(page, a, ReportContext{});
  const std::string html = page.str();
  const size_t memory = html.find("<section id=\"memory\" data-verdict=\"allocator-retention\"");
  ASSERT_NE(memory, std::string::npos);
  EXPECT_LT(memory, html.find("<section id=\"flame\""));
  EXPECT_NE(html.find("<svg class=\"waterfall\"", memory), std::string::npos);
  // Every part is a bar carrying its bytes; they add up to the RSS bar.
  uint64_t sum = 0;
  for (size_t at = html.find("data-part=\"", memory); at != std::string::npos;
       at = html.find("data-part=\"", at + 1)) {
    const size_t name = at + 11, bytes = html.find("data-bytes=\"", at) + 12;
    const std::string part = html.substr(name, html.find('"', name) - name);
    const uint64_t value = std::stoull(html.substr(bytes, html.find('"', bytes) - bytes));
    if (part == "rss") {
      EXPECT_EQ(value, now.rss);
    } else {
      sum += value;
    }
  }
  EXPECT_EQ(sum, now.rss);
  EXPECT_NE(html.find("leakprobe trim 7"), std::string::npos);  // the advice, as in the text
  // Without growth the section goes after the stacks.
  a.memory = compare_memory(base, base, 7);
  std::ostringstream flat;
  write_html_report(flat, a, ReportContext{});
  EXPECT_GT(flat.str().find("<section id=\"memory\""), flat.str().find("<section id=\"flame\""));
}

}  // namespace
}  // namespace leakprobe::analysis
