// Client side of the probe's control channel: find out whether a process runs the probe, ask it
// for a snapshot, switch its recording on or off, ask its state. Used by `leakprobe snapshot`,
// `enable`, `disable`, `list`, the tests and the e2e harness.
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

struct ControlReply {
  bool ok = false;
  std::string text;      // after "ok " when ok
  bool refused = false;  // the probe answered "error ..."; `error` is its message
  std::string error;     // one line for the user when !ok
};

// One reply line (without its newline) as the probe wrote it: "ok <text>" or "error <why>".
ControlReply parse_control_reply(const std::string& line);

// Sends one request line (format::kControlRequest*) to the probe in `pid` over its control
// socket and waits for the one-line reply, at most `timeout`. Only a socket whose holder the
// kernel says is `pid` is believed (control_socket_lookup.h); /proc/PID/maps is read only to
// explain a failure, so the process's own user can ask after it dropped root. Never sends a
// signal: a process without the probe would die of the default action of a real-time signal,
// so the socket is the only safe way in.
ControlReply control_request(int pid, const char* request, std::chrono::milliseconds timeout);

// Asks the probe in `pid` for a snapshot and waits until the file is published or `timeout`
// passes.
SnapshotResult request_snapshot(int pid, std::chrono::milliseconds timeout);

// The newest peak snapshot of the probe in `pid` (LEAKPROBE_PEAK=1): its path, or the probe's
// reason why there is none.
SnapshotResult peak_snapshot(int pid, std::chrono::milliseconds timeout);

// The probe's answer to "status": "recording exact", "dormant sampled=524288", "failed exact".
struct RecordingState {
  bool known = false;  // false: not a status line this client understands
  bool recording = false;
  bool failed = false;  // the probe stepped aside after an error
  std::string mode;     // "exact" or "sampled=<bytes>"
  // Interval snapshots on disk / LEAKPROBE_KEEP ("12/100"), "-" without LEAKPROBE_INTERVAL,
  // "?" from a probe that does not say.
  std::string kept = "?";
  // The snapshot signal's number while it works, "off", or "?" from a probe that does not say.
  std::string signal = "?";
};
RecordingState parse_recording_state(const std::string& status_text);

}  // namespace leakprobe::cli
