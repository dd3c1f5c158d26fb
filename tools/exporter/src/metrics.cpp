#include "leakprobe/exporter/metrics.h"

#include <cstdio>
#include <optional>
#include <sstream>

#include "leakprobe/analysis/memory.h"

namespace leakprobe::exporter {

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

// One metric family: HELP and TYPE once, then its samples, as the format requires (samples of
// one family must not be interleaved with another's).
class Family {
 public:
  Family(std::ostringstream& out, const char* name, const char* type, const char* help)
      : out_(out), name_(name) {
    out_ << "# HELP " << name << ' ' << help << '\n' << "# TYPE " << name << ' ' << type << '\n';
  }
  void sample(const std::string& labels, int64_t value) {
    start(labels);
    out_ << value << '\n';
  }
  // Seconds, to the microsecond (durations and unix times).
  void seconds(const std::string& labels, double value) {
    char text[64];
    std::snprintf(text, sizeof(text), "%.6f", value);
    start(labels);
    out_ << text << '\n';
  }

 private:
  void start(const std::string& labels) {
    out_ << name_;
    if (!labels.empty()) out_ << '{' << labels << '}';
    out_ << ' ';
  }

  std::ostringstream& out_;
  const char* name_;
};

std::string process_labels(const ProcessMetrics& p) {
  return "pid=\"" + std::to_string(p.pid) + "\",exe=\"" + escape_label_value(p.exe) + "\"";
}

// A gauge with one sample per process that has the figure (`field`); processes without it
// (dormant: no heap figures; another allocator: no malloc figures) have no series.
void process_gauge(std::ostringstream& out, const std::vector<ProcessMetrics>& processes,
                   const char* name, const char* help,
                   std::optional<int64_t> ProcessMetrics::*field) {
  Family f(out, name, "gauge", help);
  for (const auto& p : processes) {
    if (p.*field) f.sample(process_labels(p), *(p.*field));
  }
}

}  // namespace

std::string render_prometheus(const std::vector<ProcessMetrics>& processes,
                              const ExporterHealth& health) {
  std::ostringstream out;
  process_gauge(out, processes, "leakprobe_process_resident_bytes",
                "Resident memory of the profiled process (VmRSS), in bytes.",
                &ProcessMetrics::resident_bytes);
  process_gauge(out, processes, "leakprobe_heap_live_bytes",
                "Heap bytes live in the process, as the probe recorded them (recording only).",
                &ProcessMetrics::heap_live_bytes);
  process_gauge(out, processes, "leakprobe_heap_live_objects",
                "Heap blocks live in the process, as the probe recorded them (recording only).",
                &ProcessMetrics::heap_live_objects);
  process_gauge(out, processes, "leakprobe_heap_free_bytes",
                "Free but resident memory inside glibc malloc (not a leak: malloc keeps it).",
                &ProcessMetrics::heap_free_bytes);
  process_gauge(out, processes, "leakprobe_heap_releasable_bytes",
                "What malloc_trim(0) would give back, estimated (leakprobe trim PID does it).",
                &ProcessMetrics::releasable_bytes);
  {
    // heapdiff's verdict on the RSS change since the exporter's first snapshot, as a state set.
    Family f(out, "leakprobe_memory_verdict", "gauge",
             "1 for heapdiff's verdict on the RSS change since the exporter started.");
    for (const auto& p : processes) {
      if (p.memory_verdict.empty()) continue;
      using V = analysis::MemoryVerdict;
      for (V v : {V::kLiveHeapGrowth, V::kAllocatorRetention, V::kNonHeapGrowth, V::kNoGrowth}) {
        const char* word = analysis::memory_verdict_name(v);  // the words heapdiff prints
        f.sample(process_labels(p) + ",verdict=\"" + word + "\"",
                 static_cast<int64_t>(p.memory_verdict == word ? 1 : 0));
      }
    }
  }
  {
    Family f(out, "leakprobe_descriptors", "gauge",
             "Open descriptors the probe saw created, by kind (tcp, udp, unix, file, ...).");
    for (const auto& p : processes) {
      for (const auto& [kind, count] : p.descriptors) {
        f.sample(process_labels(p) + ",kind=\"" + escape_label_value(kind) + "\"", count);
      }
    }
  }
  process_gauge(out, processes, "leakprobe_posix_timers",
                "POSIX timers (timer_create) not deleted.", &ProcessMetrics::posix_timers);
  process_gauge(out, processes, "leakprobe_threads",
                "Threads created with pthread_create that have not exited.",
                &ProcessMetrics::threads);
  {
    // A state set: one series per state, 1 for the current one, so an alert can match
    // state="failed" and a graph can stack them.
    Family f(out, "leakprobe_recording", "gauge",
             "The probe's state: 1 for the current one of recording, dormant, failed.");
    for (const auto& p : processes) {
      for (const char* state : {"recording", "dormant", "failed"}) {
        f.sample(process_labels(p) + ",state=\"" + state + "\"",
                 static_cast<int64_t>(p.state == state ? 1 : 0));
      }
    }
  }
  {
    Family f(out, "leakprobe_snapshot_errors_total", "counter",
             "Snapshots of this process that could not be taken or read.");
    for (const auto& p : processes) {
      f.sample(process_labels(p), static_cast<int64_t>(p.snapshot_errors));
    }
  }
  // Sites: the top N by growth since the exporter first saw the process; a site that falls
  // out of the top N is no longer exported, which keeps the series per process bounded.
  auto merged_sites = [](const ProcessMetrics& p) {
    std::map<std::string, SiteMetric> by_label;
    for (const auto& s : p.sites) {
      SiteMetric& m = by_label[s.site];
      m.site = s.site;
      m.live_bytes += s.live_bytes;
      m.live_objects += s.live_objects;
    }
    return by_label;
  };
  {
    Family f(out, "leakprobe_site_live_bytes", "gauge",
             "Heap bytes live at an allocation site among the process's top N by growth since "
             "the exporter started (site as heapdiff labels it).");
    for (const auto& p : processes) {
      for (const auto& [label, s] : merged_sites(p)) {
        f.sample(process_labels(p) + ",site=\"" + escape_label_value(label) + "\"", s.live_bytes);
      }
    }
  }
  {
    Family f(out, "leakprobe_site_live_objects", "gauge",
             "Heap blocks live at an allocation site among the process's top N by growth.");
    for (const auto& p : processes) {
      for (const auto& [label, s] : merged_sites(p)) {
        f.sample(process_labels(p) + ",site=\"" + escape_label_value(label) + "\"", s.live_objects);
      }
    }
  }
  {
    Family f(out, "leakprobe_exporter_collect_duration_seconds", "gauge",
             "How long the exporter's last collection of every process took.");
    f.seconds("", health.collect_seconds);
  }
  {
    Family f(out, "leakprobe_exporter_last_collect_timestamp_seconds", "gauge",
             "When the last collection ended (unix time; 0 before the first).");
    f.seconds("", health.last_collect_time);
  }
  {
    Family f(out, "leakprobe_exporter_collections_total", "counter",
             "Collections done since the exporter started.");
    f.sample("", static_cast<int64_t>(health.collections));
  }
  {
    Family f(out, "leakprobe_exporter_processes", "gauge",
             "Profiled processes seen at the last collection.");
    f.sample("", static_cast<int64_t>(health.processes));
  }
  {
    Family f(out, "leakprobe_exporter_errors_total", "counter",
             "Snapshot or read errors over all processes since the exporter started.");
    f.sample("", static_cast<int64_t>(health.errors));
  }
  return out.str();
}

}  // namespace leakprobe::exporter
