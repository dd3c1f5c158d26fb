// Refuses to compare snapshots that cannot be compared: a diff across two different programs
// or two sampling rates would rank garbage with a straight face.
#pragma once

#include <optional>
#include <vector>

#include "leakprobe/analysis/result.h"
#include "leakprobe/analysis/snapshot.h"

namespace leakprobe::analysis {

std::optional<Error> check_compatible(const std::vector<const Snapshot*>& snapshots);

// True if `a` and `b` name different processes: different pids, or one pid in two pid
// namespaces (pid-namespace lines). False when either does not say.
bool other_process(const Snapshot& a, const Snapshot& b);

// Two snapshots of different processes (pids) compare neither their allocation counters nor
// their history (a daemon's parent exit snapshot is not its child's past): refused, naming
// both pids, unless `allowed` (--allow-different-processes).
std::optional<Error> check_same_process(const std::vector<const Snapshot*>& snapshots,
                                        bool allowed);

// Analysis order: by leakprobe.time (pprof: time_nanos) when every snapshot has it (ties by
// sequence, then the order given), else the order given. Returns indexes into `snapshots`.
std::vector<size_t> trend_order(const std::vector<const Snapshot*>& snapshots);

}  // namespace leakprobe::analysis
