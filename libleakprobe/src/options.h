// Every LEAKPROBE_* setting, with every default in one place. Read once at start-up by
// walking `environ` directly (getenv is fine too, but walking the array makes the parser a
// pure function that unit tests drive with their own arrays).
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>

namespace leakprobe {

struct Options {
  bool enabled = true;             // LEAKPROBE_ENABLED: 0 loads the probe dormant
  char output_dir[PATH_MAX] = {};  // LEAKPROBE_OUTPUT_DIR: default = cwd at start
  int signal = 0;                  // LEAKPROBE_SIGNAL: default SIGRTMIN+7, 0 = none
  unsigned interval_s = 0;         // LEAKPROBE_INTERVAL: seconds, 0 = off
  int depth = 32;                  // LEAKPROBE_DEPTH: 1..128
  uint64_t sample_bytes = 0;       // LEAKPROBE_SAMPLE_BYTES: 0 = every allocation
  bool at_exit = true;             // LEAKPROBE_AT_EXIT
  bool quiet = false;              // LEAKPROBE_QUIET: no start-up line
  bool control_socket = true;      // LEAKPROBE_CONTROL: the @leakprobe.<pid> socket
  size_t max_stacks = 1 << 18;     // LEAKPROBE_MAX_STACKS: distinct stacks kept
  bool stack_cache = true;         // LEAKPROBE_STACK_CACHE: reuse validated unwinds

  // One line per rejected value ("LEAKPROBE_DEPTH=abc is not ...; using 32"), separated by
  // '\n', for the caller to print. Fixed size: parsing must not allocate.
  char warnings[2048] = {};
};

int default_signal();  // SIGRTMIN+7

// Parses the LEAKPROBE_* entries of `env` (a NULL-terminated "KEY=VALUE" array) into `out`.
// `cwd` is the default output directory. Never fails: bad values fall back to the default
// and leave a line in out->warnings.
void parse_options(const char* const* env, const char* cwd, Options* out);

// Parses a signal spec: a number, "SIGRTMIN+k"/"RTMIN+k"/"SIGRTMAX-k", or "0"/"off"/"none"
// (no signal trigger). Returns -1 if unparseable, -2 if the signal is refused (it is used by
// the host, e.g. SIGHUP/SIGUSR1/SIGUSR2 by mosquitto, or cannot be caught).
int parse_signal(const char* spec);

}  // namespace leakprobe
