// The profiler configurations compared side by side, and how each one wraps a command.
#pragma once

#include <string>
#include <vector>

#include "process.h"

namespace bench {

struct Paths {
  std::string leakprobe_lib;  // <build>/libleakprobe/libleakprobe.so
  std::string tcmalloc = "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4";
  std::string heaptrack = "heaptrack";
};

struct Config {
  std::string name;         // short id, used in directory names
  std::string description;  // for the report
  bool available = true;
  std::string unavailable_reason;
  // gperftools is ~100x slower on the alloc loop and ~10x on the broker. Both metrics are
  // rates, so it runs pairs / alloc_divisor and messages / broker_divisor instead of
  // dominating the run time (the full run must stay well under 12 minutes on 2 busy cores).
  int alloc_divisor = 1;
  int broker_divisor = 1;
  // tcmalloc alone is context for gperftools' alloc figure; on the broker workloads it would
  // only lengthen the run.
  bool broker = true;
};

std::vector<Config> all_configs(const Paths& paths);

// Turns `spec` (a plain command) into the command under `config`; profiler output goes into
// `prof_dir`, with `tag` in the file names.
void apply_config(const Config& config, const Paths& paths, const std::string& prof_dir,
                  const std::string& tag, SpawnSpec& spec);

}  // namespace bench
