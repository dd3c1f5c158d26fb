// The profiler configurations compared side by side, and how each one wraps a command.
#pragma once

#include <string>
#include <vector>

#include "process.h"

namespace bench {

struct Paths {
  std::string leakprobe_lib;  // <build>/libleakprobe/libleakprobe.so
  std::string leakprobe_cli;  // <build>/tools/leakprobe/leakprobe: attach, detach, snapshot
  std::string tcmalloc = "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4";
  std::string heaptrack = "heaptrack";
};

// How the probe reaches a broker: preloaded from the start (LD_PRELOAD: symbol
// interposition), or loaded into the running broker by `leakprobe attach` (its GOT slots
// rewritten), and for kAttachThenDetach put back again by `leakprobe detach` before the load.
enum class Attach { kNone, kAttach, kAttachThenDetach };

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
  Attach attach = Attach::kNone;
  std::string sample_bytes = "";  // `leakprobe attach --sample-bytes`, empty: exact
};

std::vector<Config> all_configs(const Paths& paths);

// Every configuration's name, for --configs' validation and its message.
std::vector<std::string> config_names();

// Turns `spec` (a plain command) into the command under `config`; profiler output goes into
// `prof_dir`, with `tag` in the file names.
void apply_config(const Config& config, const Paths& paths, const std::string& prof_dir,
                  const std::string& tag, SpawnSpec& spec);

}  // namespace bench
