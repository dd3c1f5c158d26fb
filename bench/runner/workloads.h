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
  std::map<std::string, std::string> extra_env;
};

struct BrokerParams {
  long long qos0_messages = 40000;
  long long qos1_messages = 15000;
  int publishers = 2;
  int subscribers = 2;
};

// `dir` is created; profiler output goes into dir/prof, logs into dir.
RunResult run_alloc(const Config& config, const Paths& paths, const Programs& programs,
                    const AllocParams& params, const std::string& dir);
RunResult run_broker(const Config& config, const Paths& paths, const Programs& programs,
                     const BrokerParams& params, const std::string& dir);
RunResult run_snapshot_bench(const Config& config, const Paths& paths, const Programs& programs,
                             const std::vector<std::string>& args, const std::string& dir);

// Regular files under `dir` (recursive), name relative to `dir`.
std::vector<FileSize> list_files(const std::string& dir);

}  // namespace bench
