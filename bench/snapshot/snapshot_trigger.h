// What the benchmark reads back from the snapshot it asked for. Asking goes through
// leakprobe::cli::request_snapshot (tools/leakprobe), the client `leakprobe snapshot PID` uses.
#pragma once

#include <string>

namespace bench {

// The numbers the benchmark needs from a snapshot file.
struct SnapshotFacts {
  bool ok = false;
  long long file_bytes = 0;
  long long live_objects = 0;  // header total
  long long stack_lines = 0;
  long long probe_bytes = -1;  // -1: the probe did not write the key
  // The age census (docs/snapshot-format.md, "Age of live memory"): its CPU cost and the
  // longest it held one shard of the pointer map; -1: no census line.
  long long age_census_us = -1;
  long long age_max_hold_us = -1;
  std::string error;
};

SnapshotFacts read_snapshot_facts(const std::string& path);

}  // namespace bench
