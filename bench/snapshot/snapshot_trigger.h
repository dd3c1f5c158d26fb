// Asks the libleakprobe loaded in this very process for a snapshot and waits until the file is
// published, the way `leakprobe snapshot PID` does (control socket "@leakprobe.<pid>").
#pragma once

#include <chrono>
#include <string>

namespace bench {

struct TriggerResult {
  bool ok = false;
  std::string path;   // the published snapshot when ok
  std::string error;  // why not, otherwise
};

TriggerResult request_own_snapshot(std::chrono::milliseconds timeout);

// The numbers the benchmark needs from a snapshot file.
struct SnapshotFacts {
  bool ok = false;
  long long file_bytes = 0;
  long long live_objects = 0;  // header total
  long long stack_lines = 0;
  long long probe_bytes = -1;  // -1: the probe did not write the key
  std::string error;
};

SnapshotFacts read_snapshot_facts(const std::string& path);

}  // namespace bench
