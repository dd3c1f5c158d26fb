// One run of one workload under one configuration, and what it measured.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "configs.h"

namespace bench {

struct FileSize {
  std::string name;
  long long bytes = 0;
};

struct RunResult {
  bool ok = false;
  std::string error;
  std::map<std::string, double> metrics;  // e.g. "ns_per_pair", "qos0_msgs_per_s"
  std::vector<FileSize> files;            // everything the profiler wrote
};

struct Programs {
  std::string alloc;        // bench_alloc
  std::string broker_load;  // bench_broker_load
  std::string snapshot;     // bench_snapshot
  std::string mosquitto = "/usr/sbin/mosquitto";
};

struct AllocParams {
  long long pairs = 1'000'000;  // per thread
  double seconds = 0;           // > 0: time-bound run instead
  bool small = false;           // --sizes small: the tight 16-256 B loop
  std::map<std::string, std::string> extra_env;
};

// One broker workload of bench_broker_load and its size for this run.
struct BrokerWorkload {
  std::string name;         // twopub | fanout | churn | retained
  std::string description;  // for the report
  // Counts passed to the load generator, divided by a slow profiler's broker_divisor.
  std::vector<std::pair<std::string, long long>> counts;
};

// The workloads at the run's size: "smoke" (proves they work), "quick" or "full".
std::vector<BrokerWorkload> broker_workloads(const std::string& mode);

// A broker workload phase's row name in the report: the workload, or workload-phase when it
// has several phases ("twopub-qos0").
std::string broker_row(const std::string& workload, const std::string& phase);

// `dir` is created; profiler output goes into dir/prof, logs into dir.
RunResult run_alloc(const Config& config, const Paths& paths, const Programs& programs,
                    const AllocParams& params, const std::string& dir);
// Starts mosquitto under `config`, runs the workload's load generator against it, stops it.
// Metrics are "<row>:<field>" (e.g. "fanout:cpu_us_per_msg") plus "<workload>:vmhwm_kb".
RunResult run_broker(const Config& config, const Paths& paths, const Programs& programs,
                     const BrokerWorkload& workload, const std::string& dir);
RunResult run_snapshot_bench(const Config& config, const Paths& paths, const Programs& programs,
                             const std::vector<std::string>& args, const std::string& dir);

// Regular files under `dir` (recursive), name relative to `dir`.
std::vector<FileSize> list_files(const std::string& dir);

}  // namespace bench
