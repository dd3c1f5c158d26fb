// The machine-readable report; every field is documented in docs/heapdiff.md. Numbers are
// exact (no KiB rounding) so CI scripts and tests can compare them.
#include <cmath>
#include <nlohmann/json.hpp>

#include "leakprobe/analysis/names.h"
#include "leakprobe/analysis/report.h"
#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {
namespace {

// Insertion order kept, so the document reads top-down like the text report.
using json = nlohmann::ordered_json;

json row_json(const Row& r) {
  return json{{"function", r.function},
              {"short_function", short_function_name(r.function)},
              {"file", r.file},
              {"line", r.line},
              {"inlined", r.inlined},
              {"module", r.module},
              {"offset", format_hex(r.offset)},
              {"unnamed", r.unnamed}};
}

// The site as every writer prints it (site_label.h), short names: the text report's table
// without --full-names.
json label_json(const SiteLabel& l) {
  auto trimmed = [](const std::string& part) { return part.empty() ? part : part.substr(1); };
  const char* kind = l.kind == SiteLabel::Kind::kFunction  ? "function"
                     : l.kind == SiteLabel::Kind::kAddress ? "address"
                                                           : "none";
  return json{{"kind", kind},
              {"function", l.function},
              {"location", l.location},
              {"tell", trimmed(l.tell)},
              {"note", trimmed(l.note)}};
}

const char* distinction_name(Distinction::Kind k) {
  return k == Distinction::Kind::kOffset ? "offset" : "caller";
}

template <typename T>
json optional_json(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

const char* sort_name(SortKey k) { return k == SortKey::kBytes ? "bytes" : "objects"; }
const char* by_name(GroupBy b) {
  switch (b) {
    case GroupBy::kStack:
      return "stack";
    case GroupBy::kFunction:
      return "function";
    case GroupBy::kLine:
      return "line";
  }
  return "stack";
}

json account_json(const MemoryAccount& m) {
  return json{{"rss_bytes", m.rss},
              {"heap_live_bytes", m.heap_live},
              {"heap_overhead_bytes", m.heap_overhead},
              {"heap_before_recording_bytes", m.heap_before_recording},
              {"heap_free_bytes", m.heap_free()},
              {"heap_free_top_bytes", m.heap_free_top},
              {"heap_free_interior_bytes", m.heap_free_interior},
              {"thread_stack_bytes", m.thread_stacks},
              {"other_bytes", m.other()},
              {"other_anon_bytes", m.other_anon},
              {"file_bytes", m.file},
              {"probe_bytes", m.probe},
              {"waterfall_sum_bytes", m.sum()},
              {"releasable_bytes", m.releasable},
              {"malloc_arenas", m.arenas},
              {"malloc_arenas_holding_free", m.arenas_holding_free},
              {"malloc_figures", m.heap_known}};
}

const char* advice_name(MemoryAdvice::Kind k) {
  switch (k) {
    case MemoryAdvice::Kind::kTrim:
      return "trim";
    case MemoryAdvice::Kind::kArenaMax:
      return "arena_max";
    case MemoryAdvice::Kind::kMmapThreshold:
      return "mmap_threshold";
    case MemoryAdvice::Kind::kTrimThreshold:
      return "trim_threshold";
    case MemoryAdvice::Kind::kForeignAllocator:
      return "foreign_allocator";
  }
  return "trim";
}

json memory_json(const std::optional<MemoryReport>& r) {
  if (!r) return nullptr;
  json advice = json::array();
  for (const MemoryAdvice& a : r->advice)
    advice.push_back({{"kind", advice_name(a.kind)}, {"text", a.text}});
  return json{{"base", account_json(r->base)},
              {"new", account_json(r->now)},
              {"change",
               {{"rss_bytes", r->rss_change},
                {"heap_live_bytes", r->heap_live_change},
                {"heap_in_use_bytes", r->heap_in_use_change},
                {"heap_free_bytes", r->heap_free_change},
                {"thread_stack_bytes", r->thread_stack_change},
                {"other_bytes", r->other_change}}},
              {"releasable_bytes", r->now.releasable},
              {"verdict", memory_verdict_name(r->verdict)},
              {"reason", r->reason},
              {"advice", advice}};
}

// An attached probe's `attached` line (docs/snapshot-format.md); null when preloaded.
json attached_json(const std::optional<AttachInfo>& at) {
  if (!at) return nullptr;
  return {{"since", at->since},
          {"heap_live_bytes", optional_json(at->heap_live)},
          {"unrecorded_frees", optional_json(at->unrecorded_frees)},
          {"unrecorded_freed_bytes", optional_json(at->unrecorded_freed_bytes)}};
}

}  // namespace

void write_json_report(std::ostream& out, const Analysis& a, const ReportContext& /*ctx*/) {
  json doc;
  doc["schema"] = "leakprobe.heapdiff/1";
  doc["mode"] = a.trend_mode ? "trend" : a.one_snapshot ? "live" : "diff";
  // "heap", or a count profile's kind ("goroutine"): its count is in the *_objects fields.
  doc["kind"] = a.kind;
  const NamePrinter name(a, /*full=*/false);
  json inputs = json::array();
  for (const InputInfo& in : a.inputs) {
    inputs.push_back({{"file", in.name},
                      {"flavour", flavour_name(in.flavour)},
                      {"kind", in.kind},
                      {"program", in.program},
                      {"pid", optional_json(in.pid)},
                      {"time", optional_json(in.time)},
                      {"sequence", optional_json(in.sequence)},
                      {"trigger", optional_json(in.trigger)},
                      {"sampling", in.sampling},
                      {"stacks", in.stacks},
                      {"live_bytes", in.totals.live_bytes},
                      {"live_objects", in.totals.live_objs},
                      {"alloc_bytes", in.totals.alloc_bytes},
                      {"alloc_objects", in.totals.alloc_objs},
                      {"attached", attached_json(in.attached)}});
  }
  doc["inputs"] = inputs;
  // Cumulative allocation counters restart with a new process; say so instead of guessing.
  doc["same_process"] = a.same_process;
  // Where the RSS is and the kind of growth (null without memory sections in both files).
  doc["memory"] = memory_json(a.memory);
  // The age of live memory: whether the last input says how old its blocks are (the entries'
  // mean_age_s, live_bytes_by_age) and whether it counts the first's still-live blocks.
  doc["age"] = {{"known", a.age.known},
                {"unknown_why", a.age.known ? json(nullptr) : json(a.age.unknown_why)},
                {"still_live_known", a.age.still_live_known},
                {"still_live_unknown_why", a.age.still_live_known || a.one_snapshot
                                               ? json(nullptr)
                                               : json(a.age.still_live_unknown_why)}};
  const Options& options = a.options;
  doc["options"] = {{"sort", sort_name(options.sort)},
                    {"by", by_name(options.by)},
                    {"top", options.top},
                    {"focus", options.focus},
                    {"ignore", options.ignore},
                    {"fold", options.fold},
                    {"min_bytes", options.min_bytes},
                    {"fold_wrappers", options.fold_wrappers}};
  // The allocation wrappers found in the stacks and folded like malloc (wrappers.h).
  json wrappers = json::array();
  for (const FoldedWrapper& w : a.folded_wrappers) {
    wrappers.push_back({{"function", w.function},
                        {"module", w.module},
                        {"unnamed", w.unnamed},
                        {"callers", w.callers},
                        {"stacks", w.stacks},
                        {"helper_of", w.helper_of.empty() ? json(nullptr) : json(w.helper_of)}});
  }
  doc["folded_wrappers"] = wrappers;

  json totals;
  json live_bytes = json::array(), live_objs = json::array();
  for (const Counts& c : a.totals) {
    live_bytes.push_back(c.live_bytes);
    live_objs.push_back(c.live_objs);
  }
  totals["live_bytes"] = live_bytes;
  totals["live_objects"] = live_objs;
  if (a.totals.size() >= 2) {
    const Counts d = a.totals.back() - a.totals.front();
    totals["delta_live_bytes"] = d.live_bytes;
    totals["delta_live_objects"] = d.live_objs;
    // Different processes: null, their counters restart with each process.
    const bool between = a.same_process;
    totals["alloc_bytes"] = between ? json(d.alloc_bytes) : json(nullptr);
    totals["alloc_objects"] = between ? json(d.alloc_objs) : json(nullptr);
    totals["freed_bytes"] = between ? json(d.alloc_bytes - d.live_bytes) : json(nullptr);
    totals["freed_objects"] = between ? json(d.alloc_objs - d.live_objs) : json(nullptr);
  }
  doc["totals"] = totals;
  doc["growth"] = {{"live_bytes", a.growth_bytes}, {"live_objects", a.growth_objs}};
  doc["stacks_total"] = a.stacks_total;
  doc["stacks_filtered_out"] = a.stacks_filtered_out;
  doc["changed"] = a.changed;
  // Never true over an interval that cannot be trusted (see "warnings").
  doc["no_growth"] = a.entries.empty() && a.interval_trusted();
  doc["interval_trusted"] = a.interval_trusted();
  // Sampled inputs: growth smaller than this may get no sample at all (docs/heapdiff.md).
  doc["undetectable_below_bytes"] = optional_json(a.undetectable_below_bytes);

  json entries = json::array();
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry& e = a.entries[i];
    const Counts d = e.delta();
    json je = {
        {"rank", i + 1},
        {"key", e.key.text()},
        {"stacks", e.stacks},
        // The ranking values, flat for quick filters (jq '.entries[].delta_live_bytes').
        {"delta_live_bytes", d.live_bytes},
        {"delta_live_objects", d.live_objs},
        // Sampled inputs: the samples behind the change and its 95% range; exact
        // inputs: null and [delta, delta].
        {"samples", e.sampled ? json(e.sampled->samples) : json(nullptr)},
        {"delta_live_bytes_range", e.sampled ? json::array({e.sampled->low, e.sampled->high})
                                             : json::array({d.live_bytes, d.live_bytes})},
        {"delta_live_objects_range", e.sampled
                                         ? json::array({e.sampled->objs_low, e.sampled->objs_high})
                                         : json::array({d.live_objs, d.live_objs})},
        {"few_samples", e.sampled && e.sampled->few},
        {"delta",
         {{"live_bytes", d.live_bytes},
          {"live_objects", d.live_objs},
          {"alloc_bytes", a.same_process ? json(d.alloc_bytes) : json(nullptr)},
          {"alloc_objects", a.same_process ? json(d.alloc_objs) : json(nullptr)},
          {"freed_bytes", a.same_process ? json(d.alloc_bytes - d.live_bytes) : json(nullptr)},
          {"freed_objects", a.same_process ? json(d.alloc_objs - d.live_objs) : json(nullptr)}}}};
    json series_bytes = json::array(), series_objs = json::array();
    for (const Counts& c : e.series) {
      series_bytes.push_back(c.live_bytes);
      series_objs.push_back(c.live_objs);
    }
    je["live_bytes"] = series_bytes;
    je["live_objects"] = series_objs;
    // The age of its live blocks in the last snapshot; null where unknown ("age" says why).
    if (e.age) {
      json by_bytes, by_objs;
      for (int b = 0; b < format::kAgeBuckets; ++b) {
        by_bytes[format::kAgeBucketNames[b]] = e.age->counts.bytes[static_cast<size_t>(b)];
        by_objs[format::kAgeBucketNames[b]] = e.age->counts.objs[static_cast<size_t>(b)];
      }
      je["mean_age_s"] = e.age->mean_s ? json(std::llround(*e.age->mean_s)) : json(nullptr);
      je["oldest_age"] = e.age->oldest_bucket >= 0
                             ? json(format::kAgeBucketNames[e.age->oldest_bucket])
                             : json(nullptr);
      je["live_bytes_by_age"] = by_bytes;
      je["live_objects_by_age"] = by_objs;
    } else {
      je["mean_age_s"] = nullptr;
      je["oldest_age"] = nullptr;
      je["live_bytes_by_age"] = nullptr;
      je["live_objects_by_age"] = nullptr;
    }
    // Diffs: of the bytes live in the first snapshot, the percentage still live in the last.
    je["still_live_pct"] =
        e.still_live ? json(std::round(*e.still_live * 1000) / 10) : json(nullptr);
    if (a.trend_mode) {
      je["trend"] = std::string(trend_name(e.trend));
      json per = json::array();
      for (size_t k = 1; k < e.series.size(); ++k) {
        per.push_back(a.counts_only() ? e.series[k].live_objs - e.series[k - 1].live_objs
                                      : e.series[k].live_bytes - e.series[k - 1].live_bytes);
      }
      je["growth_per_interval"] = per;
    }
    je["site"] = {
        {"function", e.site.function}, {"short_function", short_function_name(e.site.function)},
        {"file", e.site.file},         {"line", e.site.line},
        {"module", e.site.module},     {"offset", format_hex(e.site.offset)},
        {"unnamed", e.site.unnamed}};
    je["label"] = label_json(site_label(e, name));
    je["named_caller"] = e.named_caller.empty() ? json(nullptr) : json(e.named_caller);
    if (e.distinction.kind == Distinction::Kind::kNone) {
      je["distinct_by"] = nullptr;
    } else {
      je["distinct_by"] = {{"kind", distinction_name(e.distinction.kind)},
                           {"frame", row_json(e.distinction.row)}};
    }
    je["folded_frames"] = e.folded;
    je["site_frame"] = e.site_frame;  // index of the site in `frames`
    json frames = json::array();
    for (const Row& r : e.frames) frames.push_back(row_json(r));
    je["frames"] = frames;
    entries.push_back(std::move(je));
  }
  doc["entries"] = entries;
  if (a.gate) {
    doc["fail_on_growth"] = {
        {"threshold_bytes", a.gate->threshold},
        {"exceeded", a.gate->exceeded},
        {"applied", a.interval_trusted()},  // false: the interval cannot be trusted, exit 2
        {"sampled_fails_above_bytes", optional_json(a.gate->sampled_fails_above_bytes)}};
  } else {
    doc["fail_on_growth"] = nullptr;
  }
  // Descriptors, timers and threads by creating stack (docs/heapdiff.md, "Resources").
  const ResourceReport& r = a.resources;
  doc["resources_compared"] = r.available;
  doc["resources_not_compared"] = r.available ? json(nullptr) : json(r.why_not);
  json kinds = json::object();
  for (const ResourceKindTotals& t : r.totals) kinds[t.kind] = t.live;
  doc["resource_totals"] = kinds;
  doc["untracked_fds"] = r.untracked_fds;
  doc["resource_growth"] = r.growth;
  json resources = json::array();
  for (size_t i = 0; i < r.entries.size(); ++i) {
    const ResourceEntry& e = r.entries[i];
    json je = {{"rank", i + 1},
               {"kind", e.kind},
               {"key", e.key},
               {"inherited", e.inherited},
               {"stacks", e.stacks},
               {"delta_count", e.delta()},
               {"delta_created", e.delta_created()},
               {"live", e.live},
               {"created", e.created}};
    if (a.trend_mode) {
      je["trend"] = std::string(trend_name(e.trend));
      json per = json::array();
      for (size_t k = 1; k < e.live.size(); ++k) per.push_back(e.live[k] - e.live[k - 1]);
      je["growth_per_interval"] = per;
    }
    je["site"] = {
        {"function", e.site.function}, {"short_function", short_function_name(e.site.function)},
        {"file", e.site.file},         {"line", e.site.line},
        {"module", e.site.module},     {"offset", format_hex(e.site.offset)}};
    je["label"] = label_json(site_label(e, name));
    je["site_frame"] = e.site_frame;
    json frames = json::array();
    for (const Row& row : e.frames) frames.push_back(row_json(row));
    je["frames"] = frames;
    resources.push_back(std::move(je));
  }
  doc["resources"] = resources;
  if (r.gate_threshold) {
    doc["fail_on_resource_growth"] = {{"threshold", *r.gate_threshold},
                                      {"exceeded", r.gate_exceeded}};
  } else {
    doc["fail_on_resource_growth"] = nullptr;
  }
  // Notes and warnings, in the order they arose; "untrusted_interval" marks the interval
  // problems that make "interval_trusted" false.
  json warnings = json::array();
  for (const Warning& w : a.warnings) {
    warnings.push_back({{"code", warning_code(w.kind)},
                        {"severity", w.is_note() ? "note" : "warning"},
                        {"untrusted_interval", w.distrusts_interval()},
                        {"subjects", w.subjects},
                        {"message", warning_text(w)}});
  }
  doc["warnings"] = warnings;
  // Paths and names come from the snapshot and need not be UTF-8; replace bad bytes (U+FFFD)
  // rather than throw.
  out << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

}  // namespace leakprobe::analysis
