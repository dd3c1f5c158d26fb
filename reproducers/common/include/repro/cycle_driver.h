// Runs a reproducer's work cycle with the pacing and the handshake a test harness needs.
//
// Protocol with --sync (one line each, on stdout, flushed):
//   1. run `warmup` cycles, print "WARM <pid> <cycles so far>", wait for a line on stdin;
//   2. run `iterations` cycles, print "DONE <pid> <cycles so far>", wait for a line on stdin;
//      with `checkpoints` K > 1 the run is cut into K equal parts (the last takes any rest),
//      and "MARK <pid> <cycles so far>" plus a wait separates them: K + 1 stops in all, for
//      heapdiff's trend mode;
//   3. return, so the program tears down and exits normally.
// The harness snapshots the process while it waits at 1 and at 2, so the difference between
// the two snapshots is exactly `iterations` cycles. End of input counts as the go-ahead, so a
// harness that dies never leaves a reproducer blocked forever.
#pragma once

#include <functional>

#include "repro/options.h"

namespace repro {

// One cycle of work; `index` counts from 0 over warm-up and run. Returns false on a failure
// the cycle already reported on stderr.
using Cycle = std::function<bool(long index)>;

// Returns 0 when every cycle succeeded, 1 otherwise.
int run_cycles(const CommonOptions& options, const Cycle& cycle);

}  // namespace repro
