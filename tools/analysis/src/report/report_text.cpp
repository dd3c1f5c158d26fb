// The report a person reads in a terminal: who was compared, the totals, a ranked table, then
// the full stack of each listed entry. Sizes are human (KiB/MiB); exact numbers are in --json.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "leakprobe/analysis/names.h"
#include "leakprobe/analysis/report.h"
#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {
namespace {

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

// Terminal columns of UTF-8 text: one per code point ("Δ" is two bytes but one column; the
// report prints nothing wider).
size_t display_width(std::string_view s) {
  size_t cols = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++cols;
  }
  return cols;
}

std::string pad(std::string s, size_t width, bool right) {
  const size_t cols = display_width(s);
  if (cols >= width) return s;
  return right ? std::string(width - cols, ' ') + s : s + std::string(width - cols, ' ');
}

// At most `width` columns; a cut shows as a trailing "…".
std::string ellipsize(const std::string& s, size_t width) {
  if (display_width(s) <= width) return s;
  if (width == 0) return "";
  std::string out;
  size_t cols = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool starts_code_point = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
    if (starts_code_point && ++cols > width - 1) break;
    out += s[i];
  }
  return out + "…";
}

// The last `width` columns of `s` (whole code points).
std::string tail(const std::string& s, size_t width) {
  size_t cols = 0;
  size_t at = s.size();
  while (at > 0) {
    size_t start = at - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (++cols > width) break;
    at = start;
  }
  return s.substr(at);
}

// What a count profile counts, for sentences: "goroutines", else its kind as it is.
std::string count_noun(const std::string& kind) {
  return kind == "goroutine" ? "goroutines" : kind;
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

void write_attached(std::ostream& out, const Analysis& a) {
  const std::string text = attached_text(a);
  if (!text.empty()) out << "  attached " << text << "\n";
}

void write_inputs(std::ostream& out, const Analysis& a) {
  if (a.inputs.empty()) return;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const InputInfo& in = a.inputs[i];
    std::string label = a.trend_mode ? "#" + std::to_string(i + 1) : (i == 0 ? "base" : "new");
    out << "  " << pad(label, 5, false) << in.name << "  " << flavour_name(in.flavour);
    if (in.flavour == Flavour::kPprof) out << " " << in.kind;
    if (in.pid) out << "  pid " << *in.pid;
    if (in.sequence) out << "  seq " << *in.sequence;
    if (in.time) out << "  " << utc(*in.time);
    if (in.trigger) out << "  trigger " << *in.trigger;
    if (!a.counts_only()) out << "  " << sampling_text(in.sampling);
    out << "  " << in.stacks << " stacks\n";
  }
  if (!a.inputs.empty() && !a.inputs.front().program.empty()) {
    out << "  program " << a.inputs.front().program << "\n";
  }
  write_attached(out, a);
  if (!a.same_process) {
    std::string pids;
    std::optional<int64_t> previous;
    for (const InputInfo& in : a.inputs) {
      if (!in.pid || in.pid == previous) continue;
      pids += (previous ? " -> " : "") + std::to_string(*in.pid);
      previous = in.pid;
    }
    out << "  note     different processes (" << pids
        << ", --allow-different-processes): live sizes only; allocation counters restart with "
           "each process, so nothing is said of what was allocated or freed in between\n";
  }
  if (a.inputs.size() >= 2 && a.inputs.front().time && a.inputs.back().time) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f s", *a.inputs.back().time - *a.inputs.front().time);
    out << "  interval " << buf << "\n";
  }
}

// Interval problems go into the report itself, not only to stderr, right before the table (so
// --brief keeps them): a report read later (or piped to a file) must not look like a clean
// result.
void write_interval_problems(std::ostream& out, const Analysis& a) {
  if (a.interval_trusted()) return;
  out << "  UNTRUSTED this interval cannot be trusted:\n";
  for (const Warning& w : a.warnings) {
    if (w.distrusts_interval()) out << "            " << warning_text(w) << "\n";
  }
  out << "\n";
}

// Where the report would say "no growth": over an interval that cannot be trusted it says that
// the growth is unknown instead. True if it wrote that.
bool write_growth_unknown(std::ostream& out, const Analysis& a, const char* what) {
  if (a.interval_trusted()) return false;
  out << "growth unknown: the interval cannot be trusted (UNTRUSTED above); no call stack "
         "changed its "
      << what << " in what was recorded (" << a.stacks_total << " stacks compared)\n";
  return true;
}

std::string gate_state(const Analysis& a) {
  if (!a.interval_trusted()) return "NOT APPLIED, the interval cannot be trusted (exit 2)";
  return a.gate->exceeded ? "EXCEEDED" : "ok";
}

// The allocation wrappers heapdiff found and folded (wrappers.h), so that nobody wonders where
// a function went: one line each.
void write_folded_wrappers(std::ostream& out, const Analysis& a, const ReportContext& ctx) {
  if (a.folded_wrappers.empty()) return;
  auto name = [&ctx](const std::string& f) { return ctx.full_names ? f : short_function_name(f); };
  out << "  folded   allocation wrappers found in the stacks, as if they were malloc "
         "(--no-fold-wrappers keeps them):\n";
  for (const FoldedWrapper& w : a.folded_wrappers) {
    out << "           " << name(w.function);
    if (w.helper_of.empty()) {
      out << "  (" << w.callers << " callers)\n";
    } else {
      out << "  (called only from " << name(w.helper_of) << ")\n";
    }
  }
}

std::string site_key_text(const SiteLabel& l, size_t width);

// At most `width` columns of a name. What tells names apart is at their end in an unnamed
// function's label (".../libfoo.so!fn@0x21af0") and in module+0xoffset, so those lose their
// beginning; other names lose their end.
std::string cut_name(const std::string& s, size_t width, bool tail_matters) {
  if (width == std::string::npos || display_width(s) <= width) return s;
  if (!tail_matters || width < 2) return ellipsize(s, width);
  return "…" + tail(s, width - 1);
}

// The table's site column, the entry's label (site_label): "function  file:line" with the
// file cut to its last two path components (whole with --full-names), the function alone, or
// module+0xoffset without symbols; then what tells it apart from a row with the same key, which
// is never cut (issue 24: "fn@0x21…" and "handle__connect at +0…" told nothing apart), and the
// unnamed note, which gives way first. A row may then run past the table's width.
std::string site_text(const SiteLabel& l, size_t width) {
  if (width == std::string::npos) return site_key_text(l, width) + l.tell + l.note;
  const size_t tell_cols = display_width(l.tell);
  const size_t note_cols = display_width(l.note);
  if (width >= tell_cols + note_cols + 24) {
    return site_key_text(l, width - tell_cols - note_cols) + l.tell + l.note;
  }
  constexpr size_t kMinKey = 16;
  std::string out =
      site_key_text(l, width >= tell_cols + kMinKey ? width - tell_cols : kMinKey) + l.tell;
  const size_t used = display_width(out);
  if (!l.note.empty() && used + 8 <= width) out += ellipsize(l.note, width - used);
  return out;
}

std::string site_key_text(const SiteLabel& l, size_t width) {
  if (l.location.empty()) return cut_name(l.function, width, l.tail_tells_apart);
  if (l.location_is_offset) {
    // The same notation as two entries told apart by their offset (site_tell); the offset is
    // what differs, so only the function gives way.
    const std::string at = " " + l.location;
    const size_t at_cols = display_width(at);
    return cut_name(l.function,
                    width == std::string::npos ? width
                    : width > at_cols + 8      ? width - at_cols
                                               : 8,
                    l.tail_tells_apart) +
           at;
  }
  std::string function = l.function;
  std::string location = l.location;
  if (width == std::string::npos ||
      display_width(function) + 2 + display_width(location) <= width) {
    return function + "  " + location;
  }
  // Both parts stay readable: the function keeps at least kMinFunction columns, and a long
  // path loses its beginning (the file name and line are at its end).
  constexpr size_t kMinFunction = 32;
  const size_t function_cols = std::min(display_width(function), kMinFunction);
  if (width < function_cols + 2 + 16) return ellipsize(function + "  " + location, width);
  const size_t location_room = width - function_cols - 2;
  if (display_width(location) > location_room) {
    location = "…" + tail(location, location_room - 1);
  }
  function = ellipsize(function, width - 2 - display_width(location));
  return function + "  " + location;
}

std::string range_text(const Uncertainty& u) {
  return format_bytes(u.low, true) + ".." + format_bytes(u.high, true);
}

std::string samples_text(const Uncertainty& u) {
  return std::to_string(u.samples) + (u.few ? " few" : "");
}

// Sampled inputs without listed growth: what the sampling could have missed.
void write_unseen(std::ostream& out, const Analysis& a) {
  out << "sampled every " << format_bytes(a.sampling) << " on average: growth under "
      << format_bytes(*a.undetectable_below_bytes) << " gets no sample at all in "
      << static_cast<int>((1 - kConfidence) * 100 + 0.5) << "% of runs or more";
  if (a.inputs.front().time && a.inputs.back().time &&
      *a.inputs.back().time > *a.inputs.front().time) {
    const double seconds = *a.inputs.back().time - *a.inputs.front().time;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
    out << ", so a leak slower than "
        << format_bytes(
               static_cast<int64_t>(static_cast<double>(*a.undetectable_below_bytes) / seconds))
        << "/s can go unseen over these " << buf;
  }
  // The knob is the producer's: Go's runtime for pprof input, the probe's setting otherwise.
  const char* knob = a.inputs.front().flavour == Flavour::kPprof ? "runtime.MemProfileRate"
                                                                 : "LEAKPROBE_SAMPLE_BYTES";
  out << " (a smaller " << knob << " or snapshots further apart catch slower leaks)\n";
}

void write_row(std::ostream& out, const Row& r, bool is_site, const NamePrinter& name) {
  // The arrow marks the site: the allocator is folded away and the runtime rows above it are
  // shown but are not where the program asked for the memory.
  out << (is_site ? "   -> " : "      ") << (r.inlined ? "[inlined] " : "");
  if (r.function.empty()) {
    out << module_offset(r.module, r.offset, true) << "\n";
    return;
  }
  out << name(r.function);
  if (!r.file.empty()) out << " — " << r.file << ":" << r.line;
  out << "  (" << module_offset(r.module, r.offset, true) << ")\n";
}

// The key line of a grouped entry (--by function, --by line).
std::string group_text(const GroupKey& k, const NamePrinter& name) {
  return k.kind == GroupKey::Kind::kFunction ? name(k.function)
         : k.kind == GroupKey::Kind::kLocation
             ? name(k.function) + " " + k.file + ":" + std::to_string(k.line)
             : k.text();
}

// --brief: the table only. What a report writes before its table goes to no buffer (an ostream
// without one drops what it is given, and writing it anyway keeps one path through the code);
// show_table() and the destructor put the buffer back.
class BriefSummary {
 public:
  BriefSummary(std::ostream& out, bool brief)
      : out_(out), state_(out.rdstate()), buf_(brief ? out.rdbuf(nullptr) : nullptr) {}
  ~BriefSummary() { show_table(); }
  BriefSummary(const BriefSummary&) = delete;
  BriefSummary& operator=(const BriefSummary&) = delete;
  void show_table() {
    if (buf_ == nullptr) return;
    out_.rdbuf(buf_);       // clears the badbit the missing buffer set...
    out_.setstate(state_);  // ...and only that: a failed write before stays failed
    buf_ = nullptr;
  }

 private:
  std::ostream& out_;
  std::ios_base::iostate state_;
  std::streambuf* buf_;
};

// A count profile (goroutines): one number per stack, so one column and no bytes.
void write_count_report(std::ostream& out, const Analysis& a, const ReportContext& ctx,
                        BriefSummary& summary) {
  const std::string noun = count_noun(a.kind);
  const Options& options = a.options;
  const size_t n = a.inputs.size();
  const Counts first = a.totals.front();
  const Counts last = a.totals.back();
  const bool filtered = !options.focus.empty() || !options.ignore.empty();
  out << "\ntotals" << (filtered ? " (after --focus/--ignore)" : "") << ":\n";
  out << "  count     " << first.live_objs << " -> " << last.live_objs << " " << noun << ": "
      << format_count(last.live_objs - first.live_objs, true) << "\n";
  out << "  growth    " << format_count(a.growth_objs, true) << " " << noun
      << " (sum over the stacks that grew)\n";
  if (a.trend_mode) {
    out << "  per interval ";
    for (size_t i = 1; i < n; ++i) {
      out << (i > 1 ? ", " : "")
          << format_count(a.totals[i].live_objs - a.totals[i - 1].live_objs, true);
    }
    out << "\n";
  }
  if (a.gate) {
    out << "  gate      --fail-on-growth " << a.gate->threshold << " " << noun << ": "
        << gate_state(a) << "\n";
  }
  out << "\n";
  summary.show_table();
  write_interval_problems(out, a);
  if (a.entries.empty() && write_growth_unknown(out, a, noun.c_str())) return;
  if (a.entries.empty()) {
    out << "no growth: no call stack changed its number of " << noun << " between "
        << a.inputs.front().name << " and " << a.inputs.back().name << " (" << a.stacks_total
        << " stacks compared";
    if (a.stacks_filtered_out > 0) {
      out << ", " << a.stacks_filtered_out << " left out by --focus/--ignore";
    }
    if (options.min_bytes > 0) out << ", changes below --min-bytes not listed";
    out << ")\n";
    return;
  }
  out << "top " << a.entries.size() << " of " << a.changed << " changed " << unit_name(options.by)
      << (a.trend_mode ? ", suspects first," : "") << " by Δ " << noun << ":\n";
  const NamePrinter name(a, ctx.full_names);
  const std::string head = "  rank  " + std::string(a.trend_mode ? "trend     " : "") +
                           pad("Δ count", 9, true) + pad("count", 9, true) + "  ";
  const size_t site_width = ctx.wide ? std::string::npos : kTextReportWidth - display_width(head);
  out << head << "site\n";
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry& e = a.entries[i];
    out << "  " << pad(std::to_string(i + 1), 4, true) << "  "
        << (a.trend_mode ? pad(std::string(trend_name(e.trend)), 10, false) : "")
        << pad(format_count(e.delta().live_objs, true), 9, true)
        << pad(std::to_string(e.series.back().live_objs), 9, true) << "  "
        << site_text(site_label(e, name), site_width) << "\n";
  }
  if (ctx.brief) return;
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry& e = a.entries[i];
    out << "\n#" << i + 1 << " " << format_count(e.delta().live_objs, true) << " " << noun;
    if (a.trend_mode) out << "  [" << trend_name(e.trend) << "]";
    out << "  (" << e.series.back().live_objs << " now)\n";
    if (options.by != GroupBy::kStack) {
      out << "    " << group_text(e.key, name) << ": " << e.stacks << " stack"
          << (e.stacks == 1 ? "" : "s") << "; the one that grew most:\n";
    }
    if (a.trend_mode) {
      out << "    per interval:";
      for (size_t k = 1; k < e.series.size(); ++k) {
        out << " " << format_count(e.series[k].live_objs - e.series[k - 1].live_objs, true);
      }
      out << "\n";
    }
    for (size_t k = 0; k < e.frames.size(); ++k) {
      write_row(out, e.frames[k], k == e.site_frame, name);
    }
    if (e.folded > 0) {
      out << "      (" << e.folded << " folded frame" << (e.folded == 1 ? "" : "s") << ")\n";
    }
  }
}

}  // namespace

namespace {

std::string age_mean_text(const Entry& e) {
  return e.age && e.age->mean_s ? format_age(*e.age->mean_s) : "-";
}

std::string oldest_text(const Entry& e) {
  return e.age ? age_bucket_label(e.age->oldest_bucket) : "-";
}

std::string percent_text(double share) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", share * 100);
  return buf;
}

std::string still_live_text(const Entry& e) {
  return e.still_live ? percent_text(*e.still_live) : "-";
}

// The detail's age lines: the mean, the live bytes by bucket, and in a diff the share of the
// first snapshot's blocks still live.
void write_entry_age(std::ostream& out, const Analysis& a, const Entry& e) {
  if (!e.age) return;
  out << "    age: ";
  if (e.age->mean_s) {
    out << "mean " << format_age(*e.age->mean_s) << ", oldest "
        << age_bucket_label(e.age->oldest_bucket) << "; live";
    for (int b = 0; b < format::kAgeBuckets; ++b) {
      out << (b ? ", " : " ") << age_bucket_label(b) << " "
          << format_bytes(e.age->counts.bytes[static_cast<size_t>(b)]);
    }
    out << "\n";
  } else {
    out << "nothing of it is live in " << a.inputs.back().name << "\n";
  }
  if (!a.age.still_live_known) return;
  const int64_t base = e.series.front().live_bytes;
  if (e.still_live) {
    out << "    still live: " << percent_text(*e.still_live) << " of the " << format_bytes(base)
        << " live in " << a.inputs.front().name << "\n";
  } else {
    out << "    still live: nothing of it was live in " << a.inputs.front().name << "\n";
  }
}

}  // namespace

static void write_heap_text(std::ostream& out, const Analysis& a, const ReportContext& ctx) {
  BriefSummary summary(out, ctx.brief);
  const size_t n = a.inputs.size();
  const std::string inputs = a.counts_only() ? a.kind + " profiles" : "snapshots";
  out << "heapdiff: "
      << (a.trend_mode     ? "trend over " + std::to_string(n) + " " + inputs
          : a.one_snapshot ? std::string("one snapshot: what is live in it, as growth from nothing")
                           : "diff of 2 " + inputs)
      << "\n";
  write_inputs(out, a);
  write_folded_wrappers(out, a, ctx);
  if (n < 2) return;
  if (a.counts_only()) {
    write_count_report(out, a, ctx, summary);
    return;
  }

  const Counts first = a.totals.front();
  const Counts last = a.totals.back();
  const Counts d = last - first;
  const Options& options = a.options;
  const bool filtered = !options.focus.empty() || !options.ignore.empty();
  out << "\ntotals" << (filtered ? " (after --focus/--ignore)" : "") << ":\n";
  out << "  live      " << format_bytes(first.live_bytes) << " in " << first.live_objs
      << " objects -> " << format_bytes(last.live_bytes) << " in " << last.live_objs
      << " objects: " << format_bytes(d.live_bytes, true) << ", " << format_count(d.live_objs, true)
      << " objects\n";
  if (a.same_process) {
    out << "  between   allocated " << d.alloc_objs << " objects (" << format_bytes(d.alloc_bytes)
        << "), freed " << d.alloc_objs - d.live_objs << " objects ("
        << format_bytes(d.alloc_bytes - d.live_bytes) << ")\n";
  }
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
  if (a.undetectable_below_bytes) {
    out << "  sampling  one sample per " << format_bytes(a.sampling)
        << " allocated on average: figures are estimates; growth under "
        << format_bytes(*a.undetectable_below_bytes) << " can get no sample at all ("
        << static_cast<int>((1 - kConfidence) * 100 + 0.5) << "% chance or more)\n";
  }
  // The age of live memory (docs/snapshot-format.md): a line only where it is unknown, so a
  // reader never takes a missing column for "young".
  if (!a.age.known) {
    out << "  age       unknown: " << a.age.unknown_why << "\n";
  } else if (!a.one_snapshot && !a.age.still_live_known) {
    out << "  still live unknown: " << a.age.still_live_unknown_why << "\n";
  }
  if (a.gate) {
    out << "  gate      --fail-on-growth " << format_bytes(a.gate->threshold) << ": "
        << gate_state(a);
    if (a.interval_trusted() && a.gate->sampled_fails_above_bytes && a.undetectable_below_bytes) {
      out << " (sampled: growth over " << format_bytes(*a.gate->sampled_fails_above_bytes)
          << " fails it in " << static_cast<int>(kConfidence * 100 + 0.5)
          << "% of runs or more; growth under " << format_bytes(*a.undetectable_below_bytes)
          << " can pass unseen)";
    }
    out << "\n";
  }

  out << "\n";
  summary.show_table();
  write_interval_problems(out, a);
  if (a.entries.empty() && write_growth_unknown(out, a, "live memory")) return;
  if (a.entries.empty()) {
    out << "no growth: no " << (a.undetectable_below_bytes ? "sampled " : "")
        << "call stack changed its live memory between " << a.inputs.front().name << " and "
        << a.inputs.back().name << " (" << a.stacks_total << " stacks compared";
    if (a.stacks_filtered_out > 0) {
      out << ", " << a.stacks_filtered_out << " left out by --focus/--ignore";
    }
    if (options.min_bytes > 0) out << ", changes below --min-bytes not listed";
    out << ")\n";
    if (a.undetectable_below_bytes) write_unseen(out, a);
    return;
  }

  const bool by_bytes = options.sort == SortKey::kBytes;
  out << "top " << a.entries.size() << " of " << a.changed << " changed " << unit_name(options.by)
      << (a.trend_mode ? ", suspects first," : "") << " by Δ live "
      << (by_bytes ? "bytes" : "objects") << ":\n";
  const NamePrinter name(a, ctx.full_names);
  const bool sampled =
      std::any_of(a.entries.begin(), a.entries.end(), [](const Entry& e) { return e.sampled; });
  const size_t trend_cols =
      std::any_of(a.entries.begin(), a.entries.end(),
                  [](const Entry& e) { return e.trend == Trend::kTooFewSamples; })
          ? 17
          : 10;
  const std::string head = "  rank  " +
                           (a.trend_mode ? pad("trend", trend_cols, false) : std::string()) +
                           pad("Δ live", 12, true) + (sampled ? pad("95% range", 22, true) : "") +
                           (sampled ? pad("samples", 10, true) : "") + pad("Δ objs", 9, true) +
                           (a.same_process ? pad("allocs", 9, true) + pad("frees", 9, true) : "") +
                           (a.age.known ? pad("mean age", 10, true) + pad("oldest", 7, true) : "") +
                           (a.age.still_live_known ? pad("still live", 11, true) : "") + "  ";
  const size_t site_width = ctx.wide || display_width(head) + 20 > kTextReportWidth
                                ? std::string::npos
                                : kTextReportWidth - display_width(head);
  out << head << "site\n";
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry& e = a.entries[i];
    const Counts ed = e.delta();
    out << "  " << pad(std::to_string(i + 1), 4, true) << "  "
        << (a.trend_mode ? pad(std::string(trend_name(e.trend)), trend_cols, false) : "")
        << pad(format_bytes(ed.live_bytes, true), 12, true)
        << (sampled ? pad(e.sampled ? range_text(*e.sampled) : "", 22, true) : "")
        << (sampled ? pad(e.sampled ? samples_text(*e.sampled) : "", 10, true) : "")
        << pad(format_count(ed.live_objs, true), 9, true)
        << (a.same_process ? pad(std::to_string(ed.alloc_objs), 9, true) +
                                 pad(std::to_string(ed.alloc_objs - ed.live_objs), 9, true)
                           : std::string())
        << (a.age.known ? pad(age_mean_text(e), 10, true) + pad(oldest_text(e), 7, true) : "")
        << (a.age.still_live_known ? pad(still_live_text(e), 11, true) : "") << "  "
        << site_text(site_label(e, name), site_width) << "\n";
  }

  if (ctx.brief) return;
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry& e = a.entries[i];
    const Counts ed = e.delta();
    out << "\n#" << i + 1 << " " << format_bytes(ed.live_bytes, true) << ", "
        << format_count(ed.live_objs, true) << " objects";
    if (a.trend_mode) out << "  [" << trend_name(e.trend) << "]";
    out << "  (live " << format_bytes(e.series.back().live_bytes) << " in "
        << e.series.back().live_objs << " objects";
    if (a.same_process) {
      out << "; " << ed.alloc_objs << " allocated (" << format_bytes(ed.alloc_bytes) << "), "
          << ed.alloc_objs - ed.live_objs << " freed in between";
    }
    out << ")\n";
    if (options.by != GroupBy::kStack) {
      out << "    " << group_text(e.key, name) << ": " << e.stacks << " stack"
          << (e.stacks == 1 ? "" : "s") << "; the one that grew most:\n";
    }
    if (e.sampled) {
      const Uncertainty& u = *e.sampled;
      out << "    sampled: " << u.samples << " sample" << (u.samples == 1 ? "" : "s")
          << " behind this; " << static_cast<int>(kConfidence * 100 + 0.5) << "% range "
          << range_text(u) << ", " << format_count(u.objs_low, true) << ".."
          << format_count(u.objs_high, true) << " objects";
      if (u.few) {
        out << "; too few samples to size it (fewer than " << kFewSamples << ")";
      }
      out << "\n";
    }
    write_entry_age(out, a, e);
    if (e.key.unnamed) {
      out << "    " << e.key.function << " is an unnamed function (no symbol; named by its start)";
      if (!e.named_caller.empty()) out << ", called from " << name(e.named_caller);
      out << "\n";
    }
    if (a.trend_mode) {
      out << "    per interval:";
      for (size_t k = 1; k < e.series.size(); ++k) {
        out << " " << format_bytes(e.series[k].live_bytes - e.series[k - 1].live_bytes, true);
      }
      out << "\n";
    }
    for (size_t k = 0; k < e.frames.size(); ++k) {
      write_row(out, e.frames[k], k == e.site_frame, name);
    }
    if (e.folded > 0) {
      out << "      (" << e.folded << " allocator frame" << (e.folded == 1 ? "" : "s")
          << " folded)\n";
    }
  }
}

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char buf[8];
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || (c >= 0x20 && c != 0x7f && c != 0xc2)) {
      out += static_cast<char>(c);
    } else if (c == 0xc2) {
      // U+0080..U+009F (C1 controls, CSI among them) in UTF-8: C2 80..C2 9F.
      const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
      if (next >= 0x80 && next <= 0x9f) {
        std::snprintf(buf, sizeof buf, "\\u%04x", next);
        out += buf;
        ++i;
      } else {
        out += static_cast<char>(c);
      }
    } else {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

void write_text_report(std::ostream& out, const Analysis& a, const ReportContext& ctx) {
  // Rendered whole, then made safe in one place: function names, file names and paths come
  // from the inputs, and an ESC in one would drive the reader's terminal.
  std::ostringstream text;
  // An operator comes with "RSS keeps climbing": when it did, whether that is a leak at all
  // comes before the stacks.
  const bool rss_first = a.memory && a.memory->verdict != MemoryVerdict::kNoGrowth;
  if (rss_first) {
    write_memory_text(text, a);
    text << "\n";
  }
  write_heap_text(text, a, ctx);
  if (!a.counts_only()) write_resources_text(text, a, ctx);
  if (a.memory && !rss_first) {
    text << "\n";
    write_memory_text(text, a);
  }
  out << terminal_safe(text.str());
}

// The fix, named where the problem is: on Debian the debug info of a packaged library is in its
// -dbgsym package (the debian-debug archive), or fetched by elfutils from debuginfod.debian.net.
constexpr const char kDebugInfoFix[] =
    "; to get it, set DEBUGINFOD_URLS (e.g. https://debuginfod.debian.net) or install the "
    "-dbgsym packages from the debian-debug archive (`dpkg -S FILE` names a file's package: "
    "mosquitto's is mosquitto-dbgsym), or pass --debug-dir";

// An attached probe (`leakprobe attach`) saw nothing of the heap from before the attach: say
// when recording began and how much was live then, so no one reads the stacks as all of it.
std::string attached_text(const Analysis& a) {
  const InputInfo* newest = nullptr;
  for (const InputInfo& in : a.inputs)
    if (in.attached) newest = &in;
  if (!newest) return "";
  const AttachInfo& at = *newest->attached;
  std::string text = "recording began " + utc(at.since) +
                     " (leakprobe attach): blocks from before are in no stack";
  if (at.heap_live) text += "; " + format_bytes(*at.heap_live) + " was live then";
  if (at.unrecorded_frees) {
    text += "; " + std::to_string(*at.unrecorded_frees) + " of those blocks freed since";
    if (at.unrecorded_freed_bytes) text += " (" + format_bytes(*at.unrecorded_freed_bytes) + ")";
  }
  return text;
}

std::string warning_text(const Warning& w) {
  // Modules merged into one warning are listed by file name: the paths are in the report.
  auto file_names = [&w] {
    std::string list;
    for (const std::string& path : w.subjects) {
      const size_t slash = path.rfind('/');
      list +=
          (list.empty() ? "" : ", ") + (slash == std::string::npos ? path : path.substr(slash + 1));
    }
    return list;
  };
  const std::string subject = w.subjects.empty() ? std::string() : w.subjects.front();
  switch (w.kind) {
    case Warning::Kind::kReordered: {
      std::string text = "note: snapshots ordered by their leakprobe.time:";
      for (const std::string& name : w.subjects) text += " " + name;
      return text;
    }
    case Warning::Kind::kExitLeftOut:
      return "note: " + subject +
             " left out: it is the exit snapshot, written after the program freed at shutdown "
             "what it still referenced, so it would end every series at zero and hide growth "
             "(give it alone with one other snapshot to compare it)";
    case Warning::Kind::kExitSnapshot:
      return "warning: " + subject +
             " is the exit snapshot: the program had freed at shutdown what it still "
             "referenced, so growth it kept while running may not show; compare the last "
             "snapshot before it";
    case Warning::Kind::kOneSnapshot:
      return "note: one snapshot, " + subject +
             ": what is live in it, ranked; each entry's growth is counted from nothing, its "
             "allocations since the probe started";
    case Warning::Kind::kDifferentProcesses:
      return "note: snapshots of different processes compared (--allow-different-processes): "
             "live sizes only, no allocation figures in between";
    case Warning::Kind::kStacksCut:
      return "warning: " + subject + ": " + std::to_string(w.stacks) +
             " stacks were cut at the capture depth (" + std::to_string(w.depth) +
             " frames); their outer frames are missing";
    case Warning::Kind::kForeignMalloc:
      return "warning: " + subject + ": the program called the malloc of " + w.reason +
             ", loaded before libleakprobe.so, so this snapshot saw no allocations; put "
             "libleakprobe.so first in LD_PRELOAD";
    case Warning::Kind::kModuleUnreadable:
      return "warning: cannot read " + subject + ": " + w.reason +
             "; its frames are shown as module+offset";
    case Warning::Kind::kBuildIdMismatch:
      return "warning: build-id mismatch for " + subject + ": snapshot " + w.snapshot_build_id +
             ", file " + (w.file_build_id.empty() ? std::string("none") : w.file_build_id) +
             "; symbols may be wrong";
    case Warning::Kind::kNoDebugInfo:
      return "warning: no debug info (the report shows their function names only, no "
             "file:line) for: " +
             file_names() + kDebugInfoFix;
    case Warning::Kind::kNoSymbols:
      return "warning: no symbols or debug info (their frames are shown as module+0xoffset) "
             "for: " +
             file_names() + kDebugInfoFix;
    case Warning::Kind::kRecordingOff: {
      const std::string first = w.subjects.size() > 1 ? w.subjects[1] : std::string("the base");
      const std::string since = w.time ? utc(*w.time) : std::string("an unknown time");
      std::string what;
      if (w.reason == "dormant") {
        what =
            "the probe was dormant (never enabled) when it was taken, so no allocation was "
            "recorded";
      } else if (w.reason == "off") {
        what = "recording was off (disabled) since " + since +
               ", so allocations after that were not recorded";
      } else if (w.reason == "on") {
        what = "recording was enabled only at " + since + ", after " + first +
               " was taken, so allocations before that were not recorded";
      } else {
        what = "recording was '" + w.reason + "' since " + since;
      }
      return "warning: " + subject + ": " + what +
             ": the growth over this interval is unknown (run `leakprobe enable PID` before "
             "the first snapshot)";
    }
    case Warning::Kind::kIncomplete: {
      std::string list;
      for (const std::string& name : w.subjects) list += (list.empty() ? "" : ", ") + name;
      return "warning: " + list + ": the probe marked the snapshot incomplete (" + w.reason +
             (w.time ? " since " + utc(*w.time) : std::string()) +
             "): the growth over this interval is unknown";
    }
  }
  return "warning: " + subject;
}

}  // namespace leakprobe::analysis
