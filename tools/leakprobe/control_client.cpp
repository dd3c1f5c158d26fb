#include "leakprobe/cli/control_client.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "leakprobe/cli/control_socket_lookup.h"
#include "leakprobe/snapshot_format.h"

namespace leakprobe::cli {
namespace {

// Closes the descriptor on every path out of request_snapshot.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string errno_text(int err) { return std::strerror(err); }

// From /proc/PID/stat (readable by everyone): the state letter and the kernel's task flags.
struct TaskState {
  bool known = false;
  char state = '?';
  unsigned long flags = 0;
};

TaskState task_state(const std::string& proc) {
  TaskState t;
  std::ifstream stat(proc + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return t;
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold spaces and ')'.
  const size_t comm_end = text.rfind(')');
  if (comm_end == std::string::npos) return t;
  std::istringstream rest(text.substr(comm_end + 1));
  long ppid = 0, pgrp = 0, session = 0, tty = 0, tpgid = 0;
  rest >> t.state >> ppid >> pgrp >> session >> tty >> tpgid >> t.flags;
  t.known = static_cast<bool>(rest);
  return t;
}

constexpr unsigned long kKernelThreadFlag = 0x00200000;  // PF_KTHREAD, include/linux/sched.h

}  // namespace

ProbeStatus probe_status(int pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  if (::access(proc.c_str(), F_OK) != 0) return ProbeStatus::kNoSuchProcess;
  const TaskState task = task_state(proc);
  // A zombie (or a task being reaped) has no memory and no probe thread left to answer.
  if (task.known && (task.state == 'Z' || task.state == 'X' || task.state == 'x')) {
    return ProbeStatus::kExiting;
  }
  if (task.known && (task.flags & kKernelThreadFlag) != 0) return ProbeStatus::kKernelThread;
  // The kernel checks the right to read another process's maps when the file is opened
  // (EACCES), not when it is read.
  std::ifstream maps(proc + "/maps");
  if (!maps) {
    return ::access(proc.c_str(), F_OK) != 0 ? ProbeStatus::kNoSuchProcess
                                             : ProbeStatus::kNoPermission;
  }
  std::string line;
  bool any_line = false;
  while (std::getline(maps, line)) {
    any_line = true;
    // Match the file name, not a substring of a directory, so /opt/libleakprobe.so.d/x is no hit.
    const auto slash = line.rfind('/');
    if (slash != std::string::npos && line.compare(slash + 1, 15, "libleakprobe.so") == 0) {
      return ProbeStatus::kLoaded;
    }
  }
  if (any_line) return ProbeStatus::kNotLoaded;
  // Readable but empty: the process has given its memory back, so it is on its way out
  // (between releasing its memory and becoming a zombie), or gone by now.
  return ::access(proc.c_str(), F_OK) != 0 ? ProbeStatus::kNoSuchProcess : ProbeStatus::kExiting;
}

std::string probe_status_message(int pid, ProbeStatus status) {
  const std::string p = std::to_string(pid);
  switch (status) {
    case ProbeStatus::kLoaded:
      return "the probe is loaded in pid " + p;
    case ProbeStatus::kNotLoaded:
      return "the probe is not loaded in pid " + p +
             "; start the program with `leakprobe run -- CMD` or "
             "LD_PRELOAD=/path/to/libleakprobe.so";
    case ProbeStatus::kNoSuchProcess:
      return "no process with pid " + p;
    case ProbeStatus::kNoPermission:
      return "cannot read /proc/" + p + "/maps (not your process? run as its user or root)";
    case ProbeStatus::kExiting:
      return "pid " + p +
             " is exiting and can no longer take a snapshot (with the probe loaded it writes "
             "its exit snapshot on the way out, unless LEAKPROBE_AT_EXIT=0)";
    case ProbeStatus::kKernelThread:
      return "pid " + p + " is a kernel thread: no program runs there to load the probe into";
  }
  return "pid " + p + ": unknown state";
}

namespace {

// Why a probe that was there a moment ago stopped answering, if the reason is that its
// process is exiting or gone; "" otherwise.
std::string went_away(int pid) {
  const ProbeStatus now = probe_status(pid);
  if (now == ProbeStatus::kExiting) return probe_status_message(pid, now);
  if (now == ProbeStatus::kNoSuchProcess) {
    return "pid " + std::to_string(pid) + " exited before its snapshot was written";
  }
  return "";
}

}  // namespace

ControlReply parse_control_reply(const std::string& line) {
  ControlReply result;
  const std::string ok = format::kControlReplyOk, error = format::kControlReplyError;
  if (line.compare(0, ok.size(), ok) == 0 && line.size() > ok.size()) {
    result.ok = true;
    result.text = line.substr(ok.size());
  } else if (line.compare(0, error.size(), error) == 0) {
    result.refused = true;
    result.error = line.substr(error.size());
  } else {
    result.error = "malformed reply from the probe: '" + line + "'";
  }
  return result;
}

namespace {

// Why no control socket answered for `pid`, from what /proc shows this user.
std::string no_socket_message(int pid, const VerifiedConnection& c) {
  const ProbeStatus status = probe_status(pid);
  const std::string p = std::to_string(pid);
  switch (status) {
    case ProbeStatus::kNoSuchProcess:
    case ProbeStatus::kExiting:
    case ProbeStatus::kKernelThread:
    case ProbeStatus::kNotLoaded:
      return probe_status_message(pid, status);
    case ProbeStatus::kNoPermission:
      return "no control socket answers for pid " + p +
             " (it may run with LEAKPROBE_CONTROL=0 or without the probe; /proc/" + p +
             "/maps, which would tell, is not readable to this user: try as root)";
    case ProbeStatus::kLoaded:
      break;
  }
  return "the probe in pid " + p + " does not answer on its control socket @" + c.tried +
         (c.connect_errno ? " (" + errno_text(c.connect_errno) + ")" : "") +
         "; it may run with LEAKPROBE_CONTROL=0, have failed to open it (see the program's "
         "stderr), or live in another network namespace";
}

}  // namespace

ControlReply control_request(int pid, const char* request, std::chrono::milliseconds timeout) {
  ControlReply result;
  VerifiedConnection c = connect_verified(pid, timeout);
  Fd sock;
  sock.fd = c.fd;
  if (sock.fd < 0) {
    if (!c.refusal.empty()) {
      // Someone else holds the name: never send it a request, never believe its answer.
      result.error = "refusing to talk to it: " + c.refusal +
                     " (another process took the name; the probe in pid " + std::to_string(pid) +
                     ", if any, has no control socket)";
    } else {
      result.error = no_socket_message(pid, c);
    }
    return result;
  }

  size_t left = std::strlen(request);
  int send_errno = 0;
  while (left > 0) {
    const ssize_t n = ::send(sock.fd, request, left, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The probe may have answered before reading (a refusal, "permission denied...") and
      // closed: its line is still waiting to be read, and it says more than EPIPE.
      send_errno = n < 0 ? errno : EPIPE;
      break;
    }
    request += n;
    left -= static_cast<size_t>(n);
  }

  // Read one reply line, bounded by the deadline and by size.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string reply;
  while (reply.find('\n') == std::string::npos) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      result.error = "timed out after " + std::to_string(timeout.count() / 1000.0).substr(0, 5) +
                     " s waiting for the answer of pid " + std::to_string(pid);
      return result;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    pollfd pfd{sock.fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(wait) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      result.error = "poll: " + errno_text(errno);
      return result;
    }
    if (ready == 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 && send_errno) {
      result.error = "sending the request failed: " + errno_text(send_errno);
      return result;
    }
    if (n <= 0) {
      const std::string gone = went_away(pid);
      result.error = !gone.empty() ? gone
                                   : "the probe in pid " + std::to_string(pid) +
                                         " closed the connection without an answer";
      return result;
    }
    reply.append(buf, static_cast<size_t>(n));
    if (reply.size() > 64 * 1024) {
      result.error = "malformed reply from the probe (no newline in 64 KiB)";
      return result;
    }
  }
  reply.resize(reply.find('\n'));
  return parse_control_reply(reply);
}

SnapshotResult request_snapshot(int pid, std::chrono::milliseconds timeout) {
  const ControlReply reply = control_request(pid, format::kControlRequestSnapshot, timeout);
  SnapshotResult result;
  result.ok = reply.ok;
  result.path = reply.text;
  result.error = reply.refused
                     ? "the probe in pid " + std::to_string(pid) + " answered: " + reply.error
                     : reply.error;
  return result;
}

SnapshotResult peak_snapshot(int pid, std::chrono::milliseconds timeout) {
  const ControlReply reply = control_request(pid, format::kControlRequestPeak, timeout);
  SnapshotResult result;
  result.ok = reply.ok;
  result.path = reply.text;
  result.error = reply.refused ? "no peak snapshot: " + reply.error : reply.error;
  return result;
}

RecordingState parse_recording_state(const std::string& status_text) {
  RecordingState state;
  std::istringstream in(status_text);
  std::string word, mode;
  if (!(in >> word >> mode)) return state;
  if (word != "recording" && word != "dormant" && word != "failed") return state;
  state.known = true;
  state.recording = word == "recording";
  state.failed = word == "failed";
  state.mode = mode;
  const std::string kept = format::kControlStatusKept, signal = format::kControlStatusSignal;
  for (std::string field; in >> field;) {
    if (field.compare(0, kept.size(), kept) == 0) state.kept = field.substr(kept.size());
    if (field.compare(0, signal.size(), signal) == 0) state.signal = field.substr(signal.size());
  }
  return state;
}

}  // namespace leakprobe::cli
