#include "snapshot_trigger.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <exception>
#include <fstream>

#include "leakprobe/snapshot_format.h"

namespace bench {

TriggerResult request_own_snapshot(std::chrono::milliseconds timeout) {
  TriggerResult r;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r.error = std::string("socket: ") + std::strerror(errno);
    return r;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string name =
      std::string(leakprobe::format::kControlSocketPrefix) + std::to_string(::getpid());
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // abstract: leading NUL
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    r.error = "cannot reach the probe's control socket @" + name + " (" + std::strerror(errno) +
              "); is libleakprobe.so preloaded?";
    ::close(fd);
    return r;
  }
  const std::string request = leakprobe::format::kControlRequestSnapshot;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    r.error = std::string("send: ") + std::strerror(errno);
    ::close(fd);
    return r;
  }
  std::string reply;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (reply.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.error = "no reply from the probe within the timeout";
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      r.error = "the probe closed the control connection without a reply";
      break;
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!r.error.empty()) return r;
  reply.resize(reply.find('\n'));
  if (reply.rfind("ok ", 0) == 0) {
    r.ok = true;
    r.path = reply.substr(3);
  } else {
    r.error = "probe replied: " + reply;
  }
  return r;
}

SnapshotFacts read_snapshot_facts(const std::string& path) {
  SnapshotFacts f;
  struct stat st {};
  std::ifstream in(path);
  if (!in || ::stat(path.c_str(), &st) != 0) {
    f.error = "cannot read " + path;
    return f;
  }
  f.file_bytes = st.st_size;
  const std::string probe_key =
      std::string(leakprobe::format::kMetaPrefix) + leakprobe::format::kKeyProbeBytes + ":";
  std::string line;
  bool header = false;
  try {
    while (std::getline(in, line)) {
      if (!header) {
        if (line.rfind(leakprobe::format::kHeaderPrefix, 0) != 0) {
          f.error = path + ": not a heap profile";
          return f;
        }
        f.live_objects = std::stoll(line.substr(sizeof leakprobe::format::kHeaderPrefix - 1));
        header = true;
      } else if (line.rfind(probe_key, 0) == 0) {
        f.probe_bytes = std::stoll(line.substr(probe_key.size()));
      } else if (line.rfind(leakprobe::format::kMapsSentinel, 0) == 0) {
        break;
      } else if (!line.empty() && line[0] != '#') {
        ++f.stack_lines;
      }
    }
  } catch (const std::exception&) {  // std::stoll on a malformed number
    f.error = path + ": malformed header or probe-bytes line";
    return f;
  }
  f.ok = header;
  if (!header) f.error = path + ": empty file";
  return f;
}

}  // namespace bench
