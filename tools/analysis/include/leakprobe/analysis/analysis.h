// From snapshots to ranked entries: normalise, symbolize, fold, filter, group, diff (two
// snapshots) or follow the series (three or more), rank. The report writers only format what
// this produces.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "leakprobe/analysis/result.h"
#include "leakprobe/analysis/snapshot.h"
#include "leakprobe/analysis/symbols.h"
#include "leakprobe/analysis/trend.h"

namespace leakprobe::analysis {

enum class SortKey { kBytes, kObjects };
enum class GroupBy { kStack, kFunction, kLine };

struct Options {
  SortKey sort = SortKey::kBytes;
  GroupBy by = GroupBy::kStack;
  size_t top = 10;
  std::string focus;      // ECMAScript regex on Row::match_text(); "" = none
  std::string ignore;     // same; stacks with a matching frame are dropped
  std::string fold;       // same; leading frames matching it are folded like allocator frames
  int64_t min_bytes = 0;  // entries whose |Δlive bytes| is smaller are not listed
};

struct Entry {
  std::string key;             // what the entry groups by (site label, function, or function+line)
  std::vector<Counts> series;  // one per snapshot (summed over the entry's stacks)
  size_t stacks = 0;           // how many distinct call stacks were grouped here
  Row site;                    // where the program allocated: the representative stack's
                               // first row past the allocator and the C/C++ runtime
  std::vector<Row> frames;     // representative stack (the entry's stack that grew most),
                               // allocator rows folded; filled for the listed entries only
  size_t folded = 0;           // allocator rows folded off the representative stack
  size_t site_frame = 0;       // index of `site` in `frames` (runtime rows come before it)
  Trend trend = Trend::kStable;  // trend mode only

  Counts delta() const { return series.back() - series.front(); }
};

struct InputInfo {
  std::string name;
  Flavour flavour = Flavour::kGperftools;
  int64_t sampling = 0;
  std::optional<int64_t> pid;
  std::optional<double> time;
  std::optional<int64_t> sequence;
  std::optional<std::string> trigger;
  std::string program;
  size_t stacks = 0;
  Counts totals;  // over all stacks, before filters
};

struct Analysis {
  bool trend_mode = false;         // three or more snapshots
  std::vector<InputInfo> inputs;   // in analysis order
  std::vector<Counts> totals;      // per snapshot, after --focus/--ignore
  int64_t growth_bytes = 0;        // sum of Δlive bytes over the stacks that grew
  int64_t growth_objs = 0;         // sum of Δlive objects over the stacks that grew
  size_t changed = 0;              // entries with a change that passed the filters
  std::vector<Entry> entries;      // ranked, cut to Options::top
  size_t stacks_total = 0;         // distinct normalised stacks over all inputs
  size_t stacks_filtered_out = 0;  // dropped by --focus/--ignore
};

// `snapshots` must already be in analysis order and compatible (check_compatible). A bad
// regex is the only error.
Result<Analysis> analyze(const std::vector<const Snapshot*>& snapshots, const SymbolSource& symbols,
                         const Options& options);

}  // namespace leakprobe::analysis
