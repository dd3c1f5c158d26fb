// Everything one benchmark run measured, as the report needs it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "workloads.h"

namespace bench {

struct Summary {
  double median = 0, min = 0, max = 0;
  size_t n = 0;
};

std::optional<Summary> summarize(std::vector<double> values);

// One "<workload> <configuration> <percent>" line per measurement ('#' lines and blank lines
// skipped) into results.probe_share. False, with the line in `error`, on anything else.
bool parse_profile_shares(const std::string& text,
                          std::map<std::string, std::map<std::string, double>>* shares,
                          std::string* error);

// values[metric][config] = one value per successful repetition.
using Series = std::map<std::string, std::map<std::string, std::vector<double>>>;

struct FilesSeen {
  size_t runs = 0;
  std::vector<long long> total_bytes;      // per run
  std::vector<size_t> file_count;          // per run
  std::vector<std::string> example_names;  // from the last run
};

struct UptimeRun {
  std::string config;
  double seconds = 0;
  bool ok = false;
  std::string error;
  long long last_snapshot_bytes = 0;  // largest-sequence periodic snapshot (or heaptrack file)
  long long total_bytes = 0;          // everything the profiler wrote
  size_t files = 0;
  double pairs = 0;
};

struct Results {
  std::string mode;  // "quick" or "full"
  int reps = 0;
  std::string started_utc, finished_utc;
  double wall_s = 0;
  std::string load_before, load_after;  // /proc/loadavg
  AllocParams alloc;
  std::vector<BrokerWorkload> broker_workloads;
  std::vector<std::string> broker_rows;  // report rows in order: twopub-qos0, ..., retained
  std::vector<Config> configs;
  Series series;
  std::map<std::string, std::map<std::string, FilesSeen>> files;  // [workload][config]
  std::vector<UptimeRun> uptime;
  std::vector<RunResult> snapshot_runs;  // bench_snapshot under lp-exact
  std::vector<std::string> snapshot_args;
  // The probe's share of the samples (perf record -e cpu-clock: self time in libleakprobe.so)
  // per workload ("alloc", "alloc-small", or a broker workload's name) and configuration, in
  // percent. Measured by scripts/bench.sh before the runner and read with --profile-shares.
  std::map<std::string, std::map<std::string, double>> probe_share;
  std::vector<std::string> failures;
  std::vector<std::string> notes;  // e.g. repetitions skipped to stay within the time budget
};

}  // namespace bench
