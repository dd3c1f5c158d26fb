// The probe's settings, read once at start-up by walking `environ` directly
// (getenv is fine too, but walking the array makes the parser a pure function that unit tests
// drive with their own arrays). Names, kinds, defaults and limits are defined once, in
// leakprobe/settings.h; the defaults below are taken from there.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>

#include "leakprobe/settings.h"

namespace leakprobe {

namespace detail {
constexpr uint64_t default_of(settings::Id id) { return settings::setting(id).default_value; }
}  // namespace detail

// What the tracker needs: how to record. Nothing about files or signals.
struct Options {
  bool enabled = detail::default_of(settings::kEnabled) != 0;
  int depth = static_cast<int>(detail::default_of(settings::kDepth));
  uint64_t sample_bytes = detail::default_of(settings::kSampleBytes);  // 0 = every allocation
  size_t max_stacks = detail::default_of(settings::kMaxStacks);
  bool verify_unwind = detail::default_of(settings::kVerifyUnwind) != 0;
  bool resources = detail::default_of(settings::kResources) != 0;
};

// What the writer needs: when and where snapshots go, and how they are asked for.
struct WriterConfig {
  char output_dir[PATH_MAX] = {};  // default: cwd at start
  int signal = 0;                  // set by parse_settings (SIGRTMIN is not a constant); 0 = none
  uint64_t interval_ms = detail::default_of(settings::kInterval);  // 0 = off
  bool at_exit = detail::default_of(settings::kAtExit) != 0;
  bool control_socket = detail::default_of(settings::kControl) != 0;
  unsigned keep = static_cast<unsigned>(detail::default_of(settings::kKeep));  // interval files
  bool peak = detail::default_of(settings::kPeak) != 0;
  unsigned peak_growth_pct = static_cast<unsigned>(detail::default_of(settings::kPeakGrowth));
};

// Everything LEAKPROBE_* says, parsed once at start-up.
struct Settings {
  Options tracker;
  WriterConfig writer;
  bool quiet = detail::default_of(settings::kQuiet) != 0;
  // One line per rejected value ("LEAKPROBE_DEPTH=abc is not ...; using 32"), separated by
  // '\n', for the caller to print. Fixed size: parsing must not allocate.
  char warnings[2048] = {};
};

// The most a stack can cost in the stack table at `depth` frames (bucket, index, hash slots).
uint64_t stack_bytes(int depth);
// LEAKPROBE_MAX_STACKS is tied to memory: a table that could outgrow this share of the
// memory the process may use (physical memory, or its cgroup's limit when that is smaller:
// `cgroup` true, memory_limit.h) is cut to fit (never below the setting's minimum), with one
// line in out->warnings. `memory_bytes` 0: unknown, left alone. parse_settings calls it.
inline constexpr uint64_t kMaxStacksMemoryShare = 8;
void fit_max_stacks(Settings* out, uint64_t memory_bytes, bool cgroup = false);

int default_signal();  // the default_text of LEAKPROBE_SIGNAL, parsed: SIGRTMIN+7

// Parses the LEAKPROBE_* entries of `env` (a NULL-terminated "KEY=VALUE" array) into `out`.
// `cwd` is the default output directory. Never fails: bad values fall back to the default
// and leave a line in out->warnings.
void parse_settings(const char* const* env, const char* cwd, Settings* out);

}  // namespace leakprobe
