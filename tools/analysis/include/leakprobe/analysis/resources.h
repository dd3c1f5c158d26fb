// Resource growth next to heap growth: descriptors, POSIX timers and threads by creating
// stack, from the snapshots' resource sections (docs/snapshot-format.md). The same stack
// normalisation, symbolization, site rule, grouping (--by) and trend rules as the heap;
// decided here, rendered by the report writers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "leakprobe/analysis/options.h"
#include "leakprobe/analysis/snapshot.h"
#include "leakprobe/analysis/symbols.h"
#include "leakprobe/analysis/trend.h"

namespace leakprobe::analysis {

struct ResourceEntry {
  std::string kind;              // section name: "tcp", "thread", ...
  std::string key;               // GroupKey::text() of the site, "[inherited]" without stack
  bool inherited = false;        // open before the probe loaded: no creating stack
  std::vector<int64_t> live;     // per snapshot
  std::vector<int64_t> created;  // per snapshot, cumulative since the probe started
  size_t stacks = 0;             // distinct creating stacks grouped here
  Row site;                      // the creating code: first row past the C/C++ runtime
  std::vector<Row> frames;       // representative stack
  size_t site_frame = 0;         // index of `site` in `frames`
  Trend trend = Trend::kStable;  // trend mode only
  int64_t delta() const { return live.back() - live.front(); }
  int64_t delta_created() const { return created.back() - created.front(); }
};

struct ResourceKindTotals {
  std::string kind;
  std::vector<int64_t> live;  // per snapshot
};

struct ResourceReport {
  // Every input carries resource sections (leakprobe snapshots with resources: 1). When
  // false nothing below is filled, and `why_not` says why for the report.
  bool available = false;
  std::string why_not;
  // Some input says whether resources were tracked (a leakprobe snapshot written since
  // resource tracking exists): the text report shows the resource part only then.
  bool mentioned = false;
  std::vector<ResourceKindTotals> totals;  // kinds with anything live in some input
  std::vector<int64_t> untracked_fds;      // per snapshot (-1: not recorded)
  int64_t growth = 0;                      // sum of Δlive over the entries that grew
  size_t changed = 0;                      // entries whose live count moved
  std::vector<ResourceEntry> entries;      // ranked (suspects first in trend mode), top N
  std::optional<int64_t> gate_threshold;   // --fail-on-resource-growth
  bool gate_exceeded = false;
};

// The human noun for a kind and a count: ("tcp", 243) -> "TCP sockets".
std::string resource_noun(const std::string& kind, int64_t count);

// `snapshots` in analysis order.
ResourceReport analyze_resources(const std::vector<const Snapshot*>& snapshots,
                                 const SymbolSource& symbols, const Options& options);

}  // namespace leakprobe::analysis
