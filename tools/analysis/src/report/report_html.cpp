// The report a person opens in a browser: one self-contained page (d3, d3-flame-graph and the
// page's own script are inlined, so it opens from a CI artifact or an air-gapped host) with
// the header, a flame graph of the change, the ranked table and, in trend mode, a small chart
// per entry. Like the text and JSON writers it only formats an Analysis.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>

#include "leakprobe/analysis/flame_tree.h"
#include "leakprobe/analysis/names.h"
#include "leakprobe/analysis/report.h"
#include "leakprobe/analysis/units.h"
#include "report_html_assets.h"
#include "report_html_parts.h"

namespace leakprobe::analysis {
namespace html {

std::string esc(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// What tells look-alike rows apart and who calls an unnamed function (SiteLabel::tell, note).
std::string note_html(const SiteLabel& l) {
  const std::string note = l.tell + l.note;
  return note.empty() ? note : " <span class=\"loc\">" + esc(note.substr(1)) + "</span>";
}

std::string row_html(const Row& r, const NamePrinter& name) {
  std::string out = r.inlined ? "<span class=\"inl\">[inlined]</span> " : "";
  if (r.function.empty()) return out + esc(module_offset(r.module, r.offset, true));
  out += "<span class=\"fn\">" + esc(name(r.function)) + "</span>";
  if (!r.file.empty()) out += " — " + esc(r.file) + ":" + std::to_string(r.line);
  return out + " <span class=\"mod\">(" + esc(module_offset(r.module, r.offset, true)) + ")</span>";
}

std::string site_html(const SiteLabel& l, const std::string& full_function,
                      const std::string& full_location) {
  if (l.kind != SiteLabel::Kind::kFunction) {
    return "<span class=\"fn\">" + esc(l.function) + "</span>" + note_html(l);
  }
  std::string out =
      "<span class=\"fn\" title=\"" + esc(full_function) + "\">" + esc(l.function) + "</span>";
  if (!l.location.empty()) {
    out += " <span class=\"loc\"";
    if (!l.location_is_offset) out += " title=\"" + esc(full_location) + "\"";
    out += ">" + esc(l.location) + "</span>";
  }
  return out + note_html(l);
}

// A small line chart of `values` (one per snapshot), scaled to their own range.
std::string sparkline(const std::vector<int64_t>& values, bool bytes) {
  constexpr int kWidth = 120, kHeight = 28, kPad = 3;
  int64_t lo = values.front(), hi = lo;
  for (int64_t v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  std::string points, text;
  for (size_t i = 0; i < values.size(); ++i) {
    const double x = kPad + (kWidth - 2.0 * kPad) * static_cast<double>(i) /
                                static_cast<double>(values.size() - 1);
    const double y = hi == lo
                         ? kHeight / 2.0
                         : kPad + (kHeight - 2.0 * kPad) * static_cast<double>(hi - values[i]) /
                                      static_cast<double>(hi - lo);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s%.1f,%.1f", i > 0 ? " " : "", x, y);
    points += buf;
    text += (i > 0 ? ", " : "") + (bytes ? format_bytes(values[i]) : std::to_string(values[i]));
  }
  const std::string label =
      std::string(bytes ? "live bytes" : "live count") + " per snapshot: " + text;
  return "<svg class=\"spark\" width=\"" + std::to_string(kWidth) + "\" height=\"" +
         std::to_string(kHeight) + "\" role=\"img\" aria-label=\"" + label + "\"><title>" + label +
         "</title><polyline fill=\"none\" stroke-width=\"1.5\" points=\"" + points + "\"/></svg>";
}

}  // namespace html

namespace {

using html::esc;
using html::row_html;
using html::site_html;
using html::sparkline;

// Narrower than this share of the whole change, a call is merged with its narrow siblings:
// at 1/20000 it would be a twentieth of a pixel on a 1000-pixel graph before zooming.
constexpr double kMinFlameShare = 1.0 / 20000;

std::string utc(double t) {
  const auto secs = static_cast<time_t>(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// Growth red, shrinkage blue, as in differential flame graphs.
const char* sign_class(int64_t v) { return v > 0 ? "grew" : v < 0 ? "shrank" : "same"; }

// The heap table's site: its label, the key's full function and file:line on hover.
std::string entry_site_html(const Entry& e, const NamePrinter& name) {
  const GroupKey& k = e.key;
  return site_html(site_label(e, name), k.function, k.file + ":" + std::to_string(k.line));
}

std::vector<int64_t> live_bytes(const std::vector<Counts>& series) {
  std::vector<int64_t> out;
  for (const Counts& c : series) out.push_back(c.live_bytes);
  return out;
}

// The live bytes by age bucket, as the mean-age cell's tooltip.
std::string age_title(const Entry& e) {
  if (!e.age) return "";
  std::string t = " title=\"live";
  for (int b = 0; b < format::kAgeBuckets; ++b) {
    t += std::string(b ? ", " : " ") + esc(age_bucket_label(b)) + " " +
         format_bytes(e.age->counts.bytes[static_cast<size_t>(b)]);
  }
  return t + "\"";
}

std::string percent(double share) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", share * 100);
  return buf;
}

void write_header(std::ostream& out, const Analysis& a) {
  const std::string program = a.inputs.empty() ? std::string() : a.inputs.front().program;
  out << "<header><h1>heapdiff <span class=\"prog\">" << esc(program.empty() ? "?" : program)
      << "</span></h1>\n<p class=\"mode\">"
      << (a.trend_mode     ? "trend over " + std::to_string(a.inputs.size()) + " snapshots"
          : a.one_snapshot ? std::string("one snapshot: what is live in it, as growth from nothing")
                           : std::string("diff of 2 snapshots"))
      << "</p>\n<table class=\"inputs\"><thead><tr><th></th><th>file</th><th>pid</th><th>seq</th>"
         "<th>time</th><th>trigger</th><th>mode</th><th>stacks</th><th>live</th></tr></thead>"
         "<tbody>\n";
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const InputInfo& in = a.inputs[i];
    out << "<tr><td>" << (a.trend_mode ? "#" + std::to_string(i + 1) : (i == 0 ? "base" : "new"))
        << "</td><td>" << esc(in.name) << "</td><td>" << (in.pid ? std::to_string(*in.pid) : "")
        << "</td><td>" << (in.sequence ? std::to_string(*in.sequence) : "") << "</td><td>"
        << (in.time ? utc(*in.time) : "") << "</td><td>" << esc(in.trigger.value_or(""))
        << "</td><td>" << sampling_text(in.sampling) << "</td><td>" << in.stacks << "</td><td>"
        << format_bytes(in.totals.live_bytes) << " in " << in.totals.live_objs
        << " objects</td></tr>\n";
  }
  out << "</tbody></table>\n";
  if (const std::string attached = attached_text(a); !attached.empty())
    out << "<p class=\"note\" data-code=\"attached\">Attached: " << esc(attached) << "</p>\n";
  if (!a.same_process) {
    out << "<p class=\"note\">Different processes (--allow-different-processes): live sizes "
           "only; allocation counters restart with each process, so allocs and frees are not "
           "shown.</p>\n";
  }
  if (!a.counts_only() && !a.age.known) {
    out << "<p class=\"note age-unknown\">Age of live memory unknown: " << esc(a.age.unknown_why)
        << ".</p>\n";
  } else if (!a.counts_only() && !a.one_snapshot && a.age.known && !a.age.still_live_known) {
    out << "<p class=\"note age-unknown\">Still-live share unknown: "
        << esc(a.age.still_live_unknown_why) << ".</p>\n";
  }
  for (const Warning& w : a.warnings) {
    // Interval problems first and loud: the page must not look like a clean result.
    if (!w.distrusts_interval()) continue;
    out << "<p class=\"untrusted\" data-code=\"" << warning_code(w.kind)
        << "\"><b>This interval cannot be trusted.</b> " << esc(warning_text(w)) << "</p>\n";
  }
  for (const Warning& w : a.warnings) {
    if (w.distrusts_interval()) continue;
    out << "<p class=\"note\" data-code=\"" << warning_code(w.kind) << "\">" << esc(warning_text(w))
        << "</p>\n";
  }
  if (!a.folded_wrappers.empty()) {
    // The allocation wrappers found in the stacks (wrappers.h): named, so none goes missing.
    out << "<p class=\"note\" id=\"folded-wrappers\">Allocation wrappers found in the stacks, "
           "folded as if they were malloc (<code>--no-fold-wrappers</code> keeps them):";
    for (size_t i = 0; i < a.folded_wrappers.size(); ++i) {
      const FoldedWrapper& w = a.folded_wrappers[i];
      out << (i > 0 ? "," : "") << " <code>" << esc(w.function) << "</code> ("
          << (w.helper_of.empty() ? std::to_string(w.callers) + " callers"
                                  : "called only from " + esc(w.helper_of))
          << ")";
    }
    out << "</p>\n";
  }
  if (a.totals.size() < 2) {
    out << "</header>\n";
    return;
  }
  const Counts first = a.totals.front(), last = a.totals.back(), d = last - first;
  const bool filtered = !a.options.focus.empty() || !a.options.ignore.empty();
  out << "<dl class=\"totals\"><dt>live" << (filtered ? " (after --focus/--ignore)" : "")
      << "</dt><dd>" << format_bytes(first.live_bytes) << " in " << first.live_objs << " objects → "
      << format_bytes(last.live_bytes) << " in " << last.live_objs << " objects: <b class=\""
      << sign_class(d.live_bytes) << "\">" << format_bytes(d.live_bytes, true) << "</b>, "
      << format_count(d.live_objs, true)
      << " objects</dd>\n<dt>growth</dt><dd><b class=\"grew\" id=\"growth\">"
      << format_bytes(a.growth_bytes, true) << "</b> in " << format_count(a.growth_objs, true)
      << " objects (sum over the stacks that grew)</dd>\n";
  if (a.inputs.front().time && a.inputs.back().time) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f s", *a.inputs.back().time - *a.inputs.front().time);
    out << "<dt>interval</dt><dd>" << buf << "</dd>\n";
  }
  if (a.trend_mode) {
    out << "<dt>per interval</dt><dd>";
    for (size_t i = 1; i < a.totals.size(); ++i) {
      out << (i > 1 ? ", " : "")
          << format_bytes(a.totals[i].live_bytes - a.totals[i - 1].live_bytes, true);
    }
    out << "</dd>\n";
  }
  if (a.gate) {
    out << "<dt>gate</dt><dd>--fail-on-growth " << format_bytes(a.gate->threshold) << ": "
        << (!a.interval_trusted() ? "<b class=\"grew\">not applied: the interval cannot be "
                                    "trusted (exit 2)</b>"
            : a.gate->exceeded    ? "<b class=\"grew\">EXCEEDED</b>"
                                  : "ok")
        << "</dd>\n";
  }
  out << "</dl></header>\n";
}

void write_flame_section(std::ostream& out, const FlameTree& tree) {
  out << "<section id=\"flame\"><h2>Where live memory changed</h2>\n";
  if (tree.nodes.front().width == 0) {
    out << "<p class=\"empty\">No call stack changed its live size.</p></section>\n";
    return;
  }
  out << "<p class=\"help\">Each box is a call; its width is the change in live bytes of the "
         "stacks through it (growth and shrinkage both count), callers above callees. "
         "<span class=\"swatch grew\"></span> grew, <span class=\"swatch shrank\"></span> "
         "shrank; the stronger the colour, the larger the net change. The site (where the "
         "program asked for the memory) is outlined. Hover for numbers, click to zoom.</p>\n"
         "<div class=\"controls\"><input id=\"search\" type=\"search\" "
         "placeholder=\"search functions and files (regex)\" aria-label=\"search\">"
         "<button id=\"reset\" type=\"button\">reset zoom</button>"
         "<span id=\"details\" aria-live=\"polite\"></span></div>\n"
         "<div id=\"chart\"></div><div id=\"tooltip\" role=\"tooltip\"></div>\n";
  if (tree.pruned > 0) {
    out << "<p class=\"note\">" << tree.pruned
        << " calls narrower than 1/20000 of the change are merged into “narrower calls” "
           "boxes.</p>\n";
  }
  out << "</section>\n";
}

void write_table(std::ostream& out, const Analysis& a) {
  const char* unit = a.options.by == GroupBy::kStack      ? "stacks"
                     : a.options.by == GroupBy::kFunction ? "functions"
                                                          : "lines";
  out << "<section id=\"top\"><h2>";
  if (a.entries.empty() && !a.interval_trusted()) {
    out << "Growth unknown</h2><p class=\"empty\">The interval cannot be trusted (see above); "
           "no call stack changed its live memory in what was recorded.</p></section>\n";
    return;
  }
  if (a.entries.empty()) {
    out << "No growth</h2><p class=\"empty\">No call stack changed its live memory ("
        << a.stacks_total << " stacks compared";
    if (a.stacks_filtered_out > 0) {
      out << ", " << a.stacks_filtered_out << " left out by --focus/--ignore";
    }
    out << ").</p></section>\n";
    return;
  }
  out << "Top " << a.entries.size() << " of " << a.changed << " changed " << unit
      << (a.trend_mode ? ", suspects first," : "") << " by Δ live "
      << (a.options.sort == SortKey::kBytes ? "bytes" : "objects") << "</h2>\n"
      << "<table class=\"entries\"><thead><tr><th>rank</th>"
      << (a.trend_mode ? "<th>trend</th><th>live bytes per snapshot</th>" : "")
      << "<th>Δ live</th><th>Δ objs</th>" << (a.same_process ? "<th>allocs</th><th>frees</th>" : "")
      << (a.age.known ? "<th title=\"byte-weighted mean age of its live blocks\">mean age</th>"
                        "<th title=\"the oldest age bucket holding a live block\">oldest</th>"
                      : "")
      << (a.age.still_live_known ? "<th title=\"of the bytes live in the first snapshot, the "
                                   "share still live in the last\">still live</th>"
                                 : "")
      << "<th>site</th></tr>"
      << "</thead><tbody>\n";
  const NamePrinter name(a, /*full=*/false);
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry& e = a.entries[i];
    const Counts d = e.delta();
    out << "<tr class=\"entry\"><td class=\"num\">" << i + 1 << "</td>";
    if (a.trend_mode) {
      const std::string trend(trend_name(e.trend));
      out << "<td><span class=\"trend " << trend << "\">" << trend << "</span></td><td>"
          << sparkline(live_bytes(e.series), /*bytes=*/true) << "</td>";
    }
    out << "<td class=\"num " << sign_class(d.live_bytes) << "\">"
        << format_bytes(d.live_bytes, true);
    if (e.sampled) {
      // Sampled inputs: the figure is an estimate (docs/heapdiff.md, "Sampled snapshots").
      out << "<br><span class=\"range" << (e.sampled->few ? " few" : "")
          << "\">95%: " << format_bytes(e.sampled->low, true) << ".."
          << format_bytes(e.sampled->high, true) << ", " << e.sampled->samples << " sample"
          << (e.sampled->samples == 1 ? "" : "s") << (e.sampled->few ? " (too few)" : "")
          << "</span>";
    }
    out << "</td><td class=\"num\">" << format_count(d.live_objs, true) << "</td>";
    if (a.same_process) {
      out << "<td class=\"num\">" << d.alloc_objs << "</td><td class=\"num\">"
          << d.alloc_objs - d.live_objs << "</td>";
    }
    if (a.age.known) {
      out << "<td class=\"num age\"" << age_title(e) << ">"
          << (e.age && e.age->mean_s ? format_age(*e.age->mean_s) : "-")
          << "</td><td class=\"num\">" << esc(e.age ? age_bucket_label(e.age->oldest_bucket) : "-")
          << "</td>";
    }
    if (a.age.still_live_known) {
      out << "<td class=\"num\">" << (e.still_live ? percent(*e.still_live) : "-") << "</td>";
    }
    out << "<td class=\"site\">"
        << "<details><summary>" << entry_site_html(e, name) << "</summary>";
    if (a.options.by != GroupBy::kStack) {
      out << "<p>" << e.stacks << " stack" << (e.stacks == 1 ? "" : "s")
          << "; the one that grew most:</p>";
    }
    out << "<ol class=\"stack\">";
    for (size_t k = 0; k < e.frames.size(); ++k) {
      out << "<li" << (k == e.site_frame ? " class=\"site-row\"" : "") << ">"
          << row_html(e.frames[k], name) << "</li>";
    }
    out << "</ol>";
    if (e.folded > 0) {
      out << "<p class=\"folded\">" << e.folded << " allocator frame" << (e.folded == 1 ? "" : "s")
          << " folded</p>";
    }
    out << "</details></td></tr>\n";
  }
  out << "</tbody></table></section>\n";
}

// Inline <script>: the vendored files contain no "</script", which the build checks.
void write_script(std::ostream& out, std::string_view code) {
  out << "<script>" << code << "</script>\n";
}

}  // namespace

void write_html_report(std::ostream& out, const Analysis& a, const ReportContext& ctx) {
  (void)ctx;  // --full-names and --wide are for the terminal: the page shows short names and
              // the full ones on hover, and its table wraps.
  const std::string program = a.inputs.empty() ? std::string() : a.inputs.front().program;
  const FlameTree tree = build_flame_tree(a.changed_stacks, kMinFlameShare);
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<meta name=\"generator\" content=\"leakprobe heapdiff\">\n<title>heapdiff: "
      << esc(program) << "</title>\n<style>" << html_assets::kReportCss
      << "</style>\n</head>\n<body>\n";
  write_header(out, a);
  // As in the text report: when RSS grew, whether it is a leak at all comes first.
  const bool memory_first = a.memory && a.memory->verdict != MemoryVerdict::kNoGrowth;
  if (memory_first) html::write_memory(out, a);
  write_flame_section(out, tree);
  write_table(out, a);
  html::write_resources(out, a);
  if (!memory_first) html::write_memory(out, a);
  out << "<footer>leakprobe heapdiff. Flame graph by d3-flame-graph 5.0.0 (Apache-2.0) on d3 "
         "7.9.0 (ISC).</footer>\n";
  out << "<script id=\"flame-data\" type=\"application/json\">";
  write_flame_json(out, tree, NamePrinter(a, /*full=*/false));
  out << "</script>\n";
  write_script(out, html_assets::kD3);
  write_script(out, html_assets::kFlameGraph);
  write_script(out, html_assets::kReportJs);
  out << "</body></html>\n";
}

}  // namespace leakprobe::analysis
