// The age of live memory in an analysis: whether the last snapshot says how old its live
// blocks are, and whether it counts which of the first snapshot's blocks are still live
// (docs/snapshot-format.md, "Age of live memory"). Never a guessed number: where the files do
// not carry it, the reports say the age is unknown and why.
#pragma once

#include <vector>

#include "leakprobe/analysis/snapshot.h"

namespace leakprobe::analysis {

struct AgeAvailability;

// `snapshots` in analysis order (first = base, last = described); `one_snapshot`: the first is
// nothing_before() the last.
AgeAvailability age_availability(const std::vector<const Snapshot*>& snapshots, bool one_snapshot,
                                 bool same_process);

}  // namespace leakprobe::analysis
