// Is the interval between the first and the last snapshot one whose difference is the
// program's growth? The snapshots themselves say when it is not: recording was off for part
// of it (`recording`), or the probe knows it missed something (`incomplete`). Each finding
// is an interval problem (Warning::distrusts_interval), decided here once; the writers render
// it and the gates refuse to pass over it.
#pragma once

#include <vector>

#include "leakprobe/analysis/snapshot.h"
#include "leakprobe/analysis/warnings.h"

namespace leakprobe::analysis {

// `snapshots` in analysis (time) order. Appends one kRecordingOff per later snapshot whose
// `recording` line shows recording off at some point after the first snapshot, and one
// kIncomplete per incomplete reason (listing every snapshot that carries it).
void check_interval(const std::vector<const Snapshot*>& snapshots, std::vector<Warning>& out);

}  // namespace leakprobe::analysis
