// Client side of the probe's control channel: find out whether a process runs the probe and ask
// it for a snapshot. Used by `leakprobe snapshot`, the tests and the e2e harness.
#pragma once

#include <chrono>
#include <string>

namespace leakprobe::cli {

enum class ProbeStatus {
  kLoaded,     // libleakprobe.so is mapped into the process
  kNotLoaded,  // the process exists but does not run the probe
  kNoSuchProcess,
  kNoPermission,  // /proc/PID/maps unreadable (another user's process)
  kExiting,       // a zombie, or a process that has already given back its memory
  kKernelThread,  // no user-space program at all
};

ProbeStatus probe_status(int pid);

// One line for the user saying what `status` means for pid `pid`.
std::string probe_status_message(int pid, ProbeStatus status);

struct SnapshotResult {
  bool ok = false;
  std::string path;   // absolute path of the published snapshot when ok
  std::string error;  // one line for the user when !ok
};

// Asks the probe in `pid` for a snapshot over its control socket and waits until the file is
// published or `timeout` passes. Never sends a signal: a process without the probe would die of
// the default action of a real-time signal, so the socket is the only safe way in.
SnapshotResult request_snapshot(int pid, std::chrono::milliseconds timeout);

}  // namespace leakprobe::cli
