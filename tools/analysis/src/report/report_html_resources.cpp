// The HTML report's resources section: descriptors, POSIX timers and threads by creating
// stack, next to the heap. Renders Analysis::resources (decided in resources.cpp), the same
// content as the text report's resource part.
#include <string>

#include "report_html_parts.h"

namespace leakprobe::analysis::html {
namespace {

std::string signed_count(int64_t v) { return (v > 0 ? "+" : "") + std::to_string(v); }

std::string series_text(const std::vector<int64_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " → " : "") + std::to_string(v[i]);
  return out;
}

// The resource table's site: its label, the site's full function and file:line on hover.
std::string resource_site_html(const ResourceEntry& e, const NamePrinter& name) {
  const Row& s = e.site;
  return site_html(site_label(e, name), s.function, s.file + ":" + std::to_string(s.line));
}

const char* sign_class(int64_t v) { return v > 0 ? "grew" : v < 0 ? "shrank" : "same"; }

}  // namespace

void write_resources(std::ostream& out, const Analysis& a) {
  const ResourceReport& r = a.resources;
  if (a.inputs.size() < 2 || !r.mentioned) return;  // no input knows about resources
  out << "<section id=\"resources\"><h2>Resources: descriptors, POSIX timers and threads by "
         "creating stack</h2>\n";
  if (!r.available) {
    out << "<p class=\"empty\">Not compared: " << esc(r.why_not) << "</p></section>\n";
    return;
  }
  const NamePrinter name(a, /*full=*/false);
  out << "<table class=\"resource-totals\"><thead><tr><th>kind</th><th>live per snapshot</th>"
         "<th>Δ</th></tr></thead><tbody>\n";
  for (const ResourceKindTotals& t : r.totals) {
    const int64_t d = t.live.back() - t.live.front();
    out << "<tr><td>" << esc(resource_noun(t.kind, 2)) << "</td><td>" << series_text(t.live)
        << "</td><td class=\"num " << sign_class(d) << "\">" << signed_count(d) << "</td></tr>\n";
  }
  bool any_untracked = false;
  for (int64_t u : r.untracked_fds) any_untracked = any_untracked || u > 0;
  if (any_untracked) {
    out << "<tr><td>untracked descriptors (created where no interposer sees, e.g. inside "
           "glibc)</td><td>"
        << series_text(r.untracked_fds) << "</td><td></td></tr>\n";
  }
  out << "</tbody></table>\n<dl class=\"totals\"><dt>growth</dt><dd><b class=\""
      << sign_class(r.growth) << "\" id=\"resource-growth\">" << signed_count(r.growth)
      << "</b> (sum over the creating stacks that grew)</dd>\n";
  if (r.gate_threshold) {
    out << "<dt>gate</dt><dd>--fail-on-resource-growth " << *r.gate_threshold << ": "
        << (r.gate_exceeded ? "<b class=\"grew\">EXCEEDED</b>" : "ok") << "</dd>\n";
  }
  out << "</dl>\n";
  if (r.entries.empty()) {
    out << "<p class=\"empty\">No resource growth: no creating stack changed its live count."
           "</p></section>\n";
    return;
  }
  out << "<h3>Top " << r.entries.size() << " of " << r.changed << " changed creating "
      << (a.options.by == GroupBy::kStack ? "stacks" : "sites")
      << (a.trend_mode ? ", suspects first," : "") << " by Δ live</h3>\n"
      << "<table class=\"entries resources\"><thead><tr><th>rank</th>"
      << (a.trend_mode ? "<th>trend</th><th>live per snapshot</th>" : "")
      << "<th>Δ live</th><th>kind</th><th>created</th><th>released</th><th>site</th></tr>"
         "</thead><tbody>\n";
  for (size_t i = 0; i < r.entries.size(); ++i) {
    const ResourceEntry& e = r.entries[i];
    out << "<tr class=\"resource-entry\"><td class=\"num\">" << i + 1 << "</td>";
    if (a.trend_mode) {
      const std::string trend(trend_name(e.trend));
      out << "<td><span class=\"trend " << trend << "\">" << trend << "</span></td><td>"
          << sparkline(e.live, /*bytes=*/false) << "</td>";
    }
    out << "<td class=\"num " << sign_class(e.delta()) << "\">" << signed_count(e.delta())
        << "</td><td>" << esc(resource_noun(e.kind, e.delta())) << "</td><td class=\"num\">"
        << e.delta_created() << "</td><td class=\"num\">" << e.delta_created() - e.delta()
        << "</td><td class=\"site\">";
    if (e.frames.empty()) {
      out << resource_site_html(e, name);
    } else {
      out << "<details><summary>" << resource_site_html(e, name)
          << "</summary><ol class=\"stack\">";
      for (size_t k = 0; k < e.frames.size(); ++k) {
        out << "<li" << (k == e.site_frame ? " class=\"site-row\"" : "") << ">"
            << row_html(e.frames[k], name) << "</li>";
      }
      out << "</ol></details>";
    }
    out << "</td></tr>\n";
  }
  out << "</tbody></table></section>\n";
}

}  // namespace leakprobe::analysis::html
