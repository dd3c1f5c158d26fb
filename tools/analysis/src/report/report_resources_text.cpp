// The resource part of the text report: "+243 TCP sockets from repro::connect_client
// mqtt.cpp:36", after the heap part. Renders Analysis::resources; decides nothing.
#include <ostream>

#include "leakprobe/analysis/report.h"
#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {
namespace {

std::string signed_count(int64_t v) { return (v > 0 ? "+" : "") + std::to_string(v); }

void write_row(std::ostream& out, const Row& r, bool is_site, const NamePrinter& name) {
  out << (is_site ? "   -> " : "      ") << (r.inlined ? "[inlined] " : "");
  if (r.function.empty()) {
    out << module_offset(r.module, r.offset, true) << "\n";
    return;
  }
  out << name(r.function);
  if (!r.file.empty()) out << " — " << r.file << ":" << r.line;
  out << "  (" << module_offset(r.module, r.offset, true) << ")\n";
}

std::string series_text(const std::vector<int64_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " -> " : "") + std::to_string(v[i]);
  return out;
}

// Totals, untracked descriptors, growth and gate: the summary above the table (not in --brief).
void write_resource_totals(std::ostream& out, const ResourceReport& r, bool trusted) {
  for (const ResourceKindTotals& t : r.totals) {
    out << "  " << resource_noun(t.kind, 2) << ": " << series_text(t.live) << " live ("
        << signed_count(t.live.back() - t.live.front()) << ")\n";
  }
  bool any_untracked = false;
  for (int64_t u : r.untracked_fds) any_untracked = any_untracked || u > 0;
  if (any_untracked) {
    out << "  untracked descriptors (created where no interposer sees, e.g. inside glibc): "
        << series_text(r.untracked_fds) << "\n";
  }
  out << "  growth    " << signed_count(r.growth) << " (sum over the creating stacks that grew)\n";
  if (r.gate_threshold) {
    out << "  gate      --fail-on-resource-growth " << *r.gate_threshold << ": "
        << (!trusted          ? "NOT APPLIED, the interval cannot be trusted (exit 2)"
            : r.gate_exceeded ? "EXCEEDED"
                              : "ok")
        << "\n";
  }
}

}  // namespace

void write_resources_text(std::ostream& out, const Analysis& a, const ReportContext& ctx) {
  const ResourceReport& r = a.resources;
  if (a.inputs.size() < 2 || !r.mentioned) return;
  out << "\nresources (descriptors, POSIX timers, threads by creating stack):\n";
  if (!r.available) {
    out << "  not compared: " << r.why_not << "\n";
    return;
  }
  if (!ctx.brief) write_resource_totals(out, r, a.interval_trusted());
  const NamePrinter name(a, ctx.full_names);
  if (r.entries.empty() && !a.interval_trusted()) {
    // Resources are tracked only while recording: the same interval problem applies.
    out << "  resource growth unknown: the interval cannot be trusted (UNTRUSTED above)\n";
    return;
  }
  if (r.entries.empty()) {
    out << "  no resource growth: no creating stack changed its live count\n";
    return;
  }
  out << "top " << r.entries.size() << " of " << r.changed << " changed creating "
      << (a.options.by == GroupBy::kStack ? "stacks" : "sites")
      << (a.trend_mode ? ", suspects first," : "") << " by Δ live:\n";
  for (const ResourceEntry& e : r.entries) {
    out << "  " << signed_count(e.delta()) << " " << resource_noun(e.kind, e.delta()) << " from "
        << site_label(e, name).text();
    if (a.trend_mode) out << "  [" << trend_name(e.trend) << "]";
    out << "  (live " << series_text(e.live) << "; " << e.delta_created() << " created, "
        << e.delta_created() - e.delta() << " released in between)\n";
  }
  if (ctx.brief) return;
  for (size_t i = 0; i < r.entries.size(); ++i) {
    const ResourceEntry& e = r.entries[i];
    if (e.frames.empty()) continue;
    out << "\nresource #" << i + 1 << " " << signed_count(e.delta()) << " "
        << resource_noun(e.kind, e.delta()) << ", created here:\n";
    for (size_t k = 0; k < e.frames.size(); ++k)
      write_row(out, e.frames[k], k == e.site_frame, name);
  }
}

}  // namespace leakprobe::analysis
