// The HTML report's memory section: the verdict, and the newer snapshot's RSS as a waterfall
// chart (inline SVG, no script: each part a bar that starts where the previous one ended, the
// RSS as the last bar), with the base and the change beside each part, and the advice.
#include <algorithm>
#include <cstdio>
#include <ostream>
#include <vector>

#include "leakprobe/analysis/units.h"
#include "report_html_parts.h"

namespace leakprobe::analysis::html {
namespace {

struct Part {
  const char* label;
  const char* id;      // for tests and styles: data-part
  const char* colour;  // heap parts warm, free-in-malloc amber, the rest cool
  uint64_t base, now;
};

}  // namespace

void write_memory(std::ostream& out, const Analysis& a) {
  if (!a.memory) return;
  const MemoryReport& m = *a.memory;
  const MemoryAccount& b = m.base;
  const MemoryAccount& n = m.now;
  std::vector<Part> parts = {
      {"live heap (the stacks)", "live", "#c0392b", b.heap_live, n.heap_live}};
  if (n.heap_known) {
    parts.push_back({"malloc overhead", "overhead", "#e67e22", b.heap_overhead, n.heap_overhead});
    parts.push_back({"heap from before recording", "before", "#d98880", b.heap_before_recording,
                     n.heap_before_recording});
    parts.push_back(
        {"free in malloc: top of arenas", "free-top", "#f1c40f", b.heap_free_top, n.heap_free_top});
    parts.push_back({"free in malloc: holes", "free-holes", "#f39c12", b.heap_free_interior,
                     n.heap_free_interior});
  }
  parts.push_back({"thread stacks", "stacks", "#5d6d7e", b.thread_stacks, n.thread_stacks});
  parts.push_back({"other anonymous (mmap)", "anon", "#2e86c1", b.other_anon, n.other_anon});
  parts.push_back({"file-backed", "file", "#48c9b0", b.file, n.file});
  parts.push_back({"leakprobe itself", "probe", "#a569bd", b.probe, n.probe});

  out << "<section id=\"memory\" data-verdict=\"" << memory_verdict_name(m.verdict)
      << "\"><h2>Is it a leak? <span class=\"verdict\">" << memory_verdict_name(m.verdict)
      << "</span></h2>\n<p class=\"reason\">" << esc(m.reason) << "</p>\n";

  // The waterfall: rows of bars on one scale, the widest being max(RSS, sum of the parts).
  const uint64_t scale_to = std::max<uint64_t>({n.rss, n.sum(), 1});
  const int label_w = 230, bar_w = 560, row_h = 22, value_w = 110;
  const int height = static_cast<int>(parts.size() + 1) * row_h + 8;
  out << "<svg class=\"waterfall\" role=\"img\" width=\"" << label_w + bar_w + value_w
      << "\" height=\"" << height << "\" aria-label=\"RSS waterfall of the newer snapshot\">\n";
  uint64_t at = 0;
  int y = 4;
  auto x_of = [&](uint64_t v) {
    return label_w +
           static_cast<int>(static_cast<double>(v) / static_cast<double>(scale_to) * bar_w);
  };
  for (const Part& p : parts) {
    const int x0 = x_of(at), x1 = x_of(at + p.now);
    out << "<g data-part=\"" << p.id << "\" data-bytes=\"" << p.now << "\"><title>" << esc(p.label)
        << ": " << format_bytes(static_cast<int64_t>(p.now)) << " (base "
        << format_bytes(static_cast<int64_t>(p.base)) << ")</title><text x=\"" << label_w - 6
        << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">" << esc(p.label) << "</text><rect x=\""
        << x0 << "\" y=\"" << y + 3 << "\" width=\"" << std::max(1, x1 - x0) << "\" height=\""
        << row_h - 6 << "\" fill=\"" << p.colour << "\"/><text x=\"" << label_w + bar_w + 6
        << "\" y=\"" << y + 15 << "\">" << format_bytes(static_cast<int64_t>(p.now))
        << "</text></g>\n";
    at += p.now;
    y += row_h;
  }
  out << "<g data-part=\"rss\" data-bytes=\"" << n.rss
      << "\"><title>RSS: " << format_bytes(static_cast<int64_t>(n.rss)) << "</title><text x=\""
      << label_w - 6 << "\" y=\"" << y + 15
      << "\" text-anchor=\"end\" font-weight=\"600\">RSS</text><rect x=\"" << label_w << "\" y=\""
      << y + 3 << "\" width=\"" << x_of(n.rss) - label_w << "\" height=\"" << row_h - 6
      << "\" fill=\"#222\"/><text x=\"" << label_w + bar_w + 6 << "\" y=\"" << y + 15
      << "\" font-weight=\"600\">" << format_bytes(static_cast<int64_t>(n.rss))
      << "</text></g>\n</svg>\n";

  char share[32];
  std::snprintf(share, sizeof share, "%.1f%%",
                n.rss ? 100.0 * static_cast<double>(n.sum()) / static_cast<double>(n.rss) : 0.0);
  out << "<table class=\"memory\"><thead><tr><th>part</th><th class=\"num\">base</th>"
         "<th class=\"num\">new</th><th class=\"num\">change</th></tr></thead><tbody>\n";
  auto row = [&](const char* label, uint64_t base, uint64_t now) {
    const int64_t d = static_cast<int64_t>(now) - static_cast<int64_t>(base);
    out << "<tr><td>" << esc(label) << "</td><td class=\"num\">"
        << format_bytes(static_cast<int64_t>(base)) << "</td><td class=\"num\">"
        << format_bytes(static_cast<int64_t>(now)) << "</td><td class=\"num "
        << (d > 0   ? "grew"
            : d < 0 ? "shrank"
                    : "")
        << "\">" << format_bytes(d, true) << "</td></tr>\n";
  };
  row("RSS", b.rss, n.rss);
  for (const Part& p : parts) row(p.label, p.base, p.now);
  row("sum of the parts", b.sum(), n.sum());
  out << "</tbody></table>\n<p class=\"help\">The parts add up to " << share
      << " of the newer RSS.";
  if (n.heap_known) {
    out << " malloc_trim(0) would return about <b id=\"releasable\">"
        << format_bytes(static_cast<int64_t>(n.releasable)) << "</b> now; " << n.arenas_holding_free
        << " of " << n.arenas << " malloc arenas hold 1 MiB or more free.";
  }
  out << "</p>\n";
  if (!m.advice.empty()) {
    out << "<ul class=\"advice\">\n";
    for (const MemoryAdvice& advice : m.advice) out << "<li>" << esc(advice.text) << "</li>\n";
    out << "</ul>\n";
  }
  out << "</section>\n";
}

}  // namespace leakprobe::analysis::html
