// `leakprobe attach`'s work on the process once the preflight (attach_preflight.h) said yes:
// hold every thread (ptrace_session.h), wait until none is inside malloc or the loader
// (attach_safety.h), then on one thread call dlopen(library), dlsym(handle,
// "leakprobe_attach") and leakprobe_attach(config) (remote_call.h), put that thread back and
// let all go. `detach` calls leakprobe_detach() the same way. On any failure or timeout the
// registers and stack bytes are put back and every thread is let go: the process runs on.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace leakprobe::cli {

struct InjectOptions {
  // Longest wait for one thread to stop, and for one injected call to return.
  std::chrono::milliseconds stop_timeout{2000};
  std::chrono::milliseconds call_timeout{20000};
  // How often, and for how long at most, to let the process run and look again when a thread
  // was found inside malloc or the loader.
  int attempts = 40;
  std::chrono::milliseconds retry_pause{25};
};

struct InjectResult {
  bool ok = false;
  std::string message;  // one line: why not (when !ok)
  int probe_code = 0;   // what leakprobe_attach/leakprobe_detach returned (0 or -errno)
  // A call timed out and its thread was left to finish it (remote_call.h): the process is not
  // "put back as it was" yet; the call may still take effect.
  bool left_running = false;
};

// Loads `library` (an absolute path valid inside the target) into `pid` and calls
// leakprobe_attach(`config`) there.
InjectResult inject_attach(pid_t pid, const std::string& library, const std::string& config,
                           const InjectOptions& options);

// Calls leakprobe_detach() in the probe already mapped in `pid` from `library_in_maps`.
InjectResult inject_detach(pid_t pid, const std::string& library_in_maps,
                           const InjectOptions& options);

}  // namespace leakprobe::cli
