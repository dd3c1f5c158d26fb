#include "leakprobe/cli/control_client.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
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

}  // namespace

ProbeStatus probe_status(int pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  if (::access(proc.c_str(), F_OK) != 0) return ProbeStatus::kNoSuchProcess;
  std::ifstream maps(proc + "/maps");
  if (!maps) return ProbeStatus::kNoPermission;
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
  // Reading another user's maps yields an empty file rather than an error.
  return any_line ? ProbeStatus::kNotLoaded : ProbeStatus::kNoPermission;
}

SnapshotResult request_snapshot(int pid, std::chrono::milliseconds timeout) {
  SnapshotResult result;
  switch (probe_status(pid)) {
    case ProbeStatus::kNoSuchProcess:
      result.error = "no process with pid " + std::to_string(pid);
      return result;
    case ProbeStatus::kNoPermission:
      result.error = "cannot read /proc/" + std::to_string(pid) +
                     "/maps (not your process? run as its user or root)";
      return result;
    case ProbeStatus::kNotLoaded:
      result.error = "the probe is not loaded in pid " + std::to_string(pid) +
                     "; start the program with `leakprobe run -- CMD` or "
                     "LD_PRELOAD=/path/to/libleakprobe.so";
      return result;
    case ProbeStatus::kLoaded:
      break;
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
    result.error = "the probe in pid " + std::to_string(pid) +
                   " does not answer on its control socket @" + name + " (" + errno_text(errno) +
                   "); it may be disabled (LEAKPROBE_ENABLED=0), have failed at start (see the "
                   "program's stderr), or live in another network namespace";
    return result;
  }

  const char* request = format::kControlRequestSnapshot;
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
                     " s waiting for the snapshot of pid " + std::to_string(pid);
      return result;
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
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
      result.error = "the probe in pid " + std::to_string(pid) +
                     " closed the connection without an answer (did the process exit?)";
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
    result.path = reply.substr(3);
  } else if (reply.rfind("error ", 0) == 0) {
    result.error = "the probe could not write the snapshot: " + reply.substr(6);
  } else {
    result.error = "malformed reply from the probe: '" + reply + "'";
  }
  return result;
}

}  // namespace leakprobe::cli
