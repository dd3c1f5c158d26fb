// The exporter's collection: every interval it finds the processes that run the probe (as
// `leakprobe list` does), asks each for its state and a snapshot over the control socket, and
// keeps what Prometheus needs: totals, resources, and the top N sites by growth since the
// exporter first saw the process (heapdiff's analysis of the first snapshot against the newest).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "leakprobe/exporter/metrics.h"

namespace leakprobe::exporter {

struct CollectorOptions {
  size_t top = 10;  // sites per process
  std::chrono::milliseconds snapshot_timeout{10000};
  // Snapshots the exporter asked for are read and then removed: it keeps its own state in
  // memory, and a request snapshot is one the probe's retention would never delete.
  bool keep_snapshots = false;
  // Only these processes (empty: all), and only programs whose path matches (ECMAScript regex,
  // empty: all). Another process's probe is never asked for anything.
  std::vector<int> pids;
  std::string exe_regex;
};

class Collector {
 public:
  explicit Collector(CollectorOptions options);
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // One pass over every profiled process. Processes that exited are forgotten (their series
  // end), a pid reused by a new process starts afresh. Never throws; errors are counted.
  void collect();

  std::vector<ProcessMetrics> processes() const;
  ExporterHealth health() const { return health_; }

 private:
  struct Tracked;
  CollectorOptions options_;
  std::map<int, std::unique_ptr<Tracked>> tracked_;  // by pid
  ExporterHealth health_;
};

// "60s", "1m", "500ms", "2h" or a plain number of seconds; nullopt-like 0 on error.
std::chrono::milliseconds parse_duration(const std::string& text);

}  // namespace leakprobe::exporter
