// The report a person reads in a terminal: who was compared, the totals, a ranked table, then
// the full stack of each listed entry. Sizes are human (KiB/MiB); exact numbers are in --json.
#include <cstdio>
#include <ctime>
#include <string>

#include "leakprobe/analysis/report.h"
#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {
namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string utc(double t) {
  const auto secs = static_cast<time_t>(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%03d",
                static_cast<int>((t - static_cast<double>(secs)) * 1000));
  return std::string(buf) + frac + " UTC";
}

std::string pad(std::string s, size_t width, bool right) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

std::string sampling_text(int64_t sampling) {
  return sampling <= 0 ? "exact" : "sampled/" + std::to_string(sampling);
}

const char* unit_name(GroupBy by) {
  switch (by) {
    case GroupBy::kStack:
      return "stacks";
    case GroupBy::kFunction:
      return "functions";
    case GroupBy::kLine:
      return "lines";
  }
  return "stacks";
}

void write_inputs(std::ostream& out, const Analysis& a) {
  if (a.inputs.empty()) return;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const InputInfo& in = a.inputs[i];
    std::string label = a.trend_mode ? "#" + std::to_string(i + 1) : (i == 0 ? "base" : "new");
    out << "  " << pad(label, 5, false) << in.name << "  "
        << (in.flavour == Flavour::kLeakprobe ? "leakprobe" : "gperftools");
    if (in.pid) out << "  pid " << *in.pid;
    if (in.sequence) out << "  seq " << *in.sequence;
    if (in.time) out << "  " << utc(*in.time);
    if (in.trigger) out << "  trigger " << *in.trigger;
    out << "  " << sampling_text(in.sampling) << "  " << in.stacks << " stacks\n";
  }
  if (!a.inputs.empty() && !a.inputs.front().program.empty()) {
    out << "  program " << a.inputs.front().program << "\n";
  }
  const InputInfo& first = a.inputs.front();
  const InputInfo& last = a.inputs.back();
  if (first.pid && last.pid && *first.pid != *last.pid) {
    out << "  note     the pid changed (" << *first.pid << " -> " << *last.pid
        << "): allocation counters restart with each process, so 'allocs' and 'frees' are "
           "not meaningful; live sizes still compare\n";
  }
  if (a.inputs.size() >= 2 && a.inputs.front().time && a.inputs.back().time) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f s", *a.inputs.back().time - *a.inputs.front().time);
    out << "  interval " << buf << "\n";
  }
}

void write_row(std::ostream& out, const Row& r) {
  out << "      " << (r.inlined ? "[inlined] " : "");
  if (r.function.empty()) {
    out << r.module << "+" << hex(r.offset) << "\n";
    return;
  }
  out << r.function;
  if (!r.file.empty()) out << " — " << r.file << ":" << r.line;
  out << "  (" << r.module << "+" << hex(r.offset) << ")\n";
}

}  // namespace

void write_text_report(std::ostream& out, const Analysis& a, const ReportContext& ctx) {
  const size_t n = a.inputs.size();
  out << "heapdiff: "
      << (a.trend_mode ? "trend over " + std::to_string(n) + " snapshots"
                       : std::string("diff of 2 snapshots"))
      << "\n";
  write_inputs(out, a);
  if (n < 2) return;

  const Counts first = a.totals.front();
  const Counts last = a.totals.back();
  const Counts d = last - first;
  const bool filtered = !ctx.options.focus.empty() || !ctx.options.ignore.empty();
  out << "\ntotals" << (filtered ? " (after --focus/--ignore)" : "") << ":\n";
  out << "  live      " << format_bytes(first.live_bytes) << " in " << first.live_objs
      << " objects -> " << format_bytes(last.live_bytes) << " in " << last.live_objs
      << " objects: " << format_bytes(d.live_bytes, true) << ", " << format_count(d.live_objs, true)
      << " objects\n";
  out << "  between   allocated " << d.alloc_objs << " objects (" << format_bytes(d.alloc_bytes)
      << "), freed " << d.alloc_objs - d.live_objs << " objects ("
      << format_bytes(d.alloc_bytes - d.live_bytes) << ")\n";
  out << "  growth    " << format_bytes(a.growth_bytes, true) << " in "
      << format_count(a.growth_objs, true) << " objects (sum over the stacks that grew)\n";
  if (a.trend_mode) {
    out << "  per interval ";
    for (size_t i = 1; i < n; ++i) {
      out << (i > 1 ? ", " : "")
          << format_bytes(a.totals[i].live_bytes - a.totals[i - 1].live_bytes, true);
    }
    out << "\n";
  }
  if (ctx.fail_on_growth) {
    out << "  gate      --fail-on-growth " << format_bytes(*ctx.fail_on_growth) << ": "
        << (growth_exceeds(a, *ctx.fail_on_growth) ? "EXCEEDED" : "ok") << "\n";
  }

  out << "\n";
  if (a.entries.empty()) {
    out << "no growth: no call stack changed its live memory between " << a.inputs.front().name
        << " and " << a.inputs.back().name << " (" << a.stacks_total << " stacks compared";
    if (a.stacks_filtered_out > 0) {
      out << ", " << a.stacks_filtered_out << " left out by --focus/--ignore";
    }
    if (ctx.options.min_bytes > 0) out << ", changes below --min-bytes not listed";
    out << ")\n";
    return;
  }

  const bool by_bytes = ctx.options.sort == SortKey::kBytes;
  out << "top " << a.entries.size() << " of " << a.changed << " changed "
      << unit_name(ctx.options.by) << (a.trend_mode ? ", suspects first," : "") << " by Δ live "
      << (by_bytes ? "bytes" : "objects") << ":\n";
  out << "  rank  " << (a.trend_mode ? "trend     " : "") << pad("Δ live", 12, true)
      << pad("Δ objs", 9, true) << pad("allocs", 9, true) << pad("frees", 9, true) << "  site\n";
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry& e = a.entries[i];
    const Counts ed = e.delta();
    out << "  " << pad(std::to_string(i + 1), 4, true) << "  "
        << (a.trend_mode ? pad(std::string(trend_name(e.trend)), 10, false) : "")
        << pad(format_bytes(ed.live_bytes, true), 12, true)
        << pad(format_count(ed.live_objs, true), 9, true)
        << pad(std::to_string(ed.alloc_objs), 9, true)
        << pad(std::to_string(ed.alloc_objs - ed.live_objs), 9, true) << "  " << e.key << "\n";
  }

  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry& e = a.entries[i];
    const Counts ed = e.delta();
    out << "\n#" << i + 1 << " " << format_bytes(ed.live_bytes, true) << ", "
        << format_count(ed.live_objs, true) << " objects";
    if (a.trend_mode) out << "  [" << trend_name(e.trend) << "]";
    out << "  (live " << format_bytes(e.series.back().live_bytes) << " in "
        << e.series.back().live_objs << " objects; " << ed.alloc_objs << " allocated ("
        << format_bytes(ed.alloc_bytes) << "), " << ed.alloc_objs - ed.live_objs
        << " freed in between)\n";
    if (ctx.options.by != GroupBy::kStack) {
      out << "    " << e.key << ": " << e.stacks << " stack" << (e.stacks == 1 ? "" : "s")
          << "; the one that grew most:\n";
    }
    if (a.trend_mode) {
      out << "    per interval:";
      for (size_t k = 1; k < e.series.size(); ++k) {
        out << " " << format_bytes(e.series[k].live_bytes - e.series[k - 1].live_bytes, true);
      }
      out << "\n";
    }
    for (const Row& r : e.frames) write_row(out, r);
    if (e.folded > 0) {
      out << "      (" << e.folded << " allocator frame" << (e.folded == 1 ? "" : "s")
          << " folded)\n";
    }
  }
}

bool growth_exceeds(const Analysis& analysis, int64_t threshold) {
  return analysis.growth_bytes > threshold;
}

}  // namespace leakprobe::analysis
