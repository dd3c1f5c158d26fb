// From snapshots to ranked entries: order and check the inputs, normalise, symbolize, fold,
// filter, group, diff (two snapshots) or follow the series (three or more), rank, apply the CI
// gate, gather the warnings. Every decision is made here, once; the report writers (text,
// JSON, HTML) only render what this produces.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "leakprobe/analysis/changed_stacks.h"
#include "leakprobe/analysis/memory.h"
#include "leakprobe/analysis/options.h"
#include "leakprobe/analysis/resources.h"
#include "leakprobe/analysis/result.h"
#include "leakprobe/analysis/site.h"
#include "leakprobe/analysis/snapshot.h"
#include "leakprobe/analysis/symbols.h"
#include "leakprobe/analysis/trend.h"
#include "leakprobe/analysis/uncertainty.h"
#include "leakprobe/analysis/warnings.h"
#include "leakprobe/analysis/wrappers.h"

namespace leakprobe::analysis {

// The CI gate (--fail-on-growth): exceeded when the growth (sum of Δlive bytes over the stacks
// that grew, after --focus and --ignore; for count profiles the sum of Δcount) is strictly
// larger than the threshold.
struct Gate {
  int64_t threshold = 0;
  bool exceeded = false;
  // Sampled inputs: the growth that fails the gate in at least kConfidence of runs
  // (uncertainty.h); growth below Analysis::undetectable_below_bytes may get no sample at all.
  std::optional<int64_t> sampled_fails_above_bytes;
};

// When two listed entries would print the same site (same key), what tells this one apart.
struct Distinction {
  enum class Kind {
    kNone,    // its key is unique among the listed entries (or nothing printable differs)
    kOffset,  // another call in the same function (or on the same line): `row` is the site
    kCaller,  // the same call reached another way: `row` is the first caller that differs
  };
  Kind kind = Kind::kNone;
  Row row;
  // kCaller: another entry's caller at that depth has the same function, so the offset (or
  // line) is what differs.
  bool same_function = false;
};

// The age of an entry's live blocks in the last snapshot (docs/snapshot-format.md, "Age of
// live memory"), summed over its stacks.
struct EntryAge {
  AgeCounts counts;
  std::optional<double> mean_s;  // byte-weighted; nullopt when nothing of it is live
  int oldest_bucket = -1;        // format::kAgeBucketNames index; -1 when nothing is live
};

struct Entry {
  GroupKey key;                  // what the entry groups by
  std::vector<Counts> series;    // one per snapshot (summed over the entry's stacks)
  size_t stacks = 0;             // how many distinct call stacks were grouped here
  Row site;                      // where the program allocated: the representative stack's
                                 // first row past the allocator and the C/C++ runtime
  std::vector<Row> frames;       // representative stack (the entry's stack that grew most),
                                 // allocator rows folded; filled for the listed entries only
  size_t folded = 0;             // allocator rows folded off the representative stack
  size_t site_frame = 0;         // index of `site` in `frames` (runtime rows come before it)
  Trend trend = Trend::kStable;  // trend mode only
  // site.unnamed only: the nearest named function up the representative stack ("unnamed
  // function called from retain__store"); empty if none is named.
  std::string named_caller;
  Distinction distinction;             // what differs from listed entries with the same key
  std::optional<Uncertainty> sampled;  // sampled inputs with known sample counts only
  std::optional<EntryAge> age;         // nullopt: unknown (Analysis::age says why)
  // Diffs: of the bytes this entry had live in the first snapshot, the share still live in the
  // last (0..1), from the last snapshot's count of its blocks allocated before the first was
  // written. nullopt: unknown (Analysis::age says why) or nothing was live in the first.
  std::optional<double> still_live;

  Counts delta() const { return series.back() - series.front(); }
};

struct InputInfo {
  std::string name;
  Flavour flavour = Flavour::kGperftools;
  std::string kind = "heap";  // Snapshot::kind
  int64_t sampling = 0;
  std::optional<int64_t> pid;
  std::optional<double> time;
  std::optional<int64_t> sequence;
  std::optional<std::string> trigger;
  std::string program;
  size_t stacks = 0;
  Counts totals;                       // over all stacks, before filters
  std::optional<AttachInfo> attached;  // the probe was attached, not preloaded (Snapshot)
};

// Whether the reports can show ages, and why not.
struct AgeAvailability {
  bool known = false;       // the last snapshot counted its live blocks by age
  std::string unknown_why;  // when not known: a sentence for the reports
  // Diffs: the last snapshot counts survivors of the first (one of its age cutoffs is it).
  bool still_live_known = false;
  std::string still_live_unknown_why;  // diffs whose share is unknown
  std::optional<size_t> cutoff;        // the last snapshot's cutoff that is the first snapshot
};

struct Analysis {
  Options options;          // what the analysis was asked for (count profiles: by count)
  bool trend_mode = false;  // three or more snapshots
  // One snapshot given: it is compared with nothing_before() it (the first input), so each
  // entry's growth is what is live in it.
  bool one_snapshot = false;
  // What the inputs count (Snapshot::kind): "heap", or a count profile's kind ("goroutine"),
  // whose count is in the *_objs fields, bytes being 0.
  std::string kind = "heap";
  bool counts_only() const { return kind != "heap"; }
  std::vector<InputInfo> inputs;   // in analysis order
  bool same_process = true;        // no two inputs name different pids (allocation counters
                                   // restart with each process; live sizes still compare)
  std::vector<Counts> totals;      // per snapshot, after --focus/--ignore
  int64_t growth_bytes = 0;        // sum of Δlive bytes over the stacks that grew
  int64_t growth_objs = 0;         // sum of Δlive objects over the stacks that grew
  size_t changed = 0;              // entries with a change that passed the filters
  std::vector<Entry> entries;      // ranked, cut to Options::top
  size_t stacks_total = 0;         // distinct normalised stacks over all inputs
  size_t stacks_filtered_out = 0;  // dropped by --focus/--ignore
  std::optional<Gate> gate;        // set when Options::fail_on_growth is
  int64_t sampling = 0;            // mean bytes per sample of the inputs, 0 for exact ones
  // Sampled inputs: growth smaller than this may get no sample at all (uncertainty.h).
  std::optional<int64_t> undetectable_below_bytes;
  std::vector<Warning> warnings;  // in the order they arose: inputs first, then symbols
  ChangedStacks changed_stacks;   // Options::keep_changed_stacks only; after the filters
  ResourceReport resources;       // descriptors, timers, threads (resources.h)
  // Where the RSS is and what kind of growth it shows (memory.h): first vs last snapshot,
  // when both have a memory section and come from the same process.
  std::optional<MemoryReport> memory;
  AgeAvailability age;  // the age of live memory (Entry::age, Entry::still_live)

  // No interval problem among the warnings (Warning::distrusts_interval): the difference is
  // the program's growth. When false, no writer says "no growth" and no gate passes.
  bool interval_trusted() const {
    for (const Warning& w : warnings) {
      if (w.distrusts_interval()) return false;
    }
    return true;
  }

  // Allocation wrappers found in the stacks and folded like the allocator (wrappers.h); empty
  // with Options::fold_wrappers off.
  std::vector<FoldedWrapper> folded_wrappers;
};

// Is `growth_bytes` (count profiles: `growth_objs`) over the --fail-on-growth threshold (see
// Gate)?
bool growth_exceeds(const Analysis& analysis, int64_t threshold);

// Where the symbolizer's warnings come from once the analysis is done (heapdiff:
// Symbolizer::take_warnings); empty with --no-symbols and in tests that feed exact symbols.
using SymbolWarnings = std::function<std::vector<symbolize::Warning>()>;

// `snapshots` in the order the user gave them. They are put in time order (trend_order, with
// a kReordered note when that changed it); with three or more, an exit snapshot at the end
// is left out (kExitLeftOut). Snapshots that cannot be compared (check_compatible,
// check_same_process) and a bad regex are errors.
Result<Analysis> analyze(const std::vector<const Snapshot*>& snapshots, const SymbolSource& symbols,
                         const Options& options, const SymbolWarnings& symbol_warnings = {});

}  // namespace leakprobe::analysis
