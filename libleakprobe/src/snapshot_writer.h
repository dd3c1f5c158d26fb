// Renders a snapshot (docs/snapshot-format.md) without allocating, through the probe's text
// sink (text_out.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "text_out.h"

namespace leakprobe {

class Tracker;
class AgeHistory;

struct SnapshotInfo {
  int pid = 0;
  int ppid = 0;                          // non-zero in a forked child
  unsigned long long pid_namespace = 0;  // own_pid_namespace(); 0: unknown, not written
  unsigned sequence = 1;
  const char* trigger = "request";
  int64_t time_sec = 0;
  int64_t time_usec = 0;
  const char* foreign_malloc = nullptr;  // see preload_order.h; nullptr: none
  // The memory section (memory_census.h): off in unit tests that drive a Tracker without
  // LD_PRELOAD, whose process-wide figures would be the test runner's.
  bool memory = false;
  // Earlier snapshots of this process the age lines count survivors against (age_census.h);
  // nullptr: none.
  const AgeHistory* age_history = nullptr;
  // Set by write_snapshot: the tracker's clock (Tracker::now_ms) when the age census began,
  // for the writer to add this snapshot to its history; -1 if no census was taken.
  int64_t* age_census_ms = nullptr;
};

// Writes the whole snapshot of `t`: header with totals, metadata (incl. build-ids of every
// loaded ELF object), one line per stack, the copy of /proc/self/maps and the trailer.
// Allocation-free; safe on the probe's own thread while other threads keep allocating.
bool write_snapshot(Out& out, const Tracker& t, const SnapshotInfo& info);

}  // namespace leakprobe
