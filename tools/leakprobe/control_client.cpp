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

ControlReply control_request(int pid, const char* request, std::chrono::milliseconds timeout) {
  ControlReply result;
  if (const ProbeStatus status = probe_status(pid); status != ProbeStatus::kLoaded) {
    result.error = probe_status_message(pid, status);
    return result;
  }

  Fd sock;
  sock.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock.fd < 0) {
    result.error = "socket: " + errno_text(errno);
    return result;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // Abstract namespace: leading NUL, no file to clean up, gone when the process dies.
  const std::string name = std::string(format::kControlSocketPrefix) + std::to_string(pid);
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    if (const std::string gone = went_away(pid); !gone.empty()) {
      result.error = gone;
      return result;
    }
    errno = err;
    result.error = "the probe in pid " + std::to_string(pid) +
                   " does not answer on its control socket @" + name + " (" + errno_text(errno) +
                   "); it may run with LEAKPROBE_CONTROL=0, have failed at start (see the "
                   "program's stderr), or live in another network namespace";
    return result;
  }

  size_t left = std::strlen(request);
  while (left > 0) {
    const ssize_t n = ::send(sock.fd, request, left, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result.error = "sending the request failed: " + errno_text(errno);
      return result;
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
  if (reply.rfind("ok ", 0) == 0 && reply.size() > 3) {
    result.ok = true;
    result.text = reply.substr(3);
  } else if (reply.rfind("error ", 0) == 0) {
    result.refused = true;
    result.error = reply.substr(6);
  } else {
    result.error = "malformed reply from the probe: '" + reply + "'";
  }
  return result;
}

SnapshotResult request_snapshot(int pid, std::chrono::milliseconds timeout) {
  const ControlReply reply = control_request(pid, format::kControlRequestSnapshot, timeout);
  SnapshotResult result;
  result.ok = reply.ok;
  result.path = reply.text;
  result.error =
      reply.refused ? "the probe could not write the snapshot: " + reply.error : reply.error;
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
  for (std::string field; in >> field;) {
    if (field.rfind("kept=", 0) == 0) state.kept = field.substr(5);
  }
  return state;
}

}  // namespace leakprobe::cli
