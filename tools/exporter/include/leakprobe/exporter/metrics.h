// What the exporter knows about each profiled process, and its rendering in the Prometheus text
// exposition format (version 0.0.4). Kept apart from collecting, so a unit test can check the
// names, labels and escaping without any process or socket.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace leakprobe::exporter {

// One allocation site among a process's top N by growth since the exporter first saw it. `site`
// is the label heapdiff prints for it (function file:line, or module+offset).
struct SiteMetric {
  std::string site;
  int64_t live_bytes = 0;    // live now at this site (not the growth)
  int64_t live_objects = 0;  // live now at this site
};

struct ProcessMetrics {
  int pid = 0;
  std::string exe;
  std::string state;  // "recording", "dormant" or "failed" (the probe's own answer)
  std::optional<int64_t> resident_bytes;  // VmRSS
  // Heap figures only while the probe records: a dormant probe's snapshot holds nothing.
  std::optional<int64_t> heap_live_bytes;
  std::optional<int64_t> heap_live_objects;
  // From the snapshot's memory section (glibc malloc only): free but resident inside malloc,
  // what malloc_trim(0) would give back, and heapdiff's verdict on the RSS change since the
  // exporter's first snapshot ("live-heap-growth", "allocator-retention", ...).
  std::optional<int64_t> heap_free_bytes;
  std::optional<int64_t> releasable_bytes;
  std::string memory_verdict;
  std::map<std::string, int64_t> descriptors;  // by kind (tcp, unix, file, ...), live now
  std::optional<int64_t> posix_timers;
  std::optional<int64_t> threads;
  uint64_t snapshot_errors = 0;  // snapshots asked for that could not be taken or read
  std::vector<SiteMetric> sites;
};

struct ExporterHealth {
  double collect_seconds = 0;    // duration of the last collection (all processes)
  double last_collect_time = 0;  // unix seconds, 0 before the first
  uint64_t collections = 0;
  uint64_t errors = 0;  // over all processes since start
  size_t processes = 0;
};

// The whole /metrics page. Label values are escaped as the format requires (\\, \", \n);
// two sites with the same label are summed, since duplicate series make a scrape fail.
std::string render_prometheus(const std::vector<ProcessMetrics>& processes,
                              const ExporterHealth& health);

// `value` as a label value inside double quotes.
std::string escape_label_value(const std::string& value);

}  // namespace leakprobe::exporter
