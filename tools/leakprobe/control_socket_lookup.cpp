#include "leakprobe/cli/control_socket_lookup.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "leakprobe/snapshot_format.h"

namespace leakprobe::cli {
namespace {

// "pid:[4026531836]" -> 4026531836; false if the link cannot be read (another user's
// non-dumpable process) or does not look like that.
bool read_pid_namespace(const std::string& link, unsigned long long* ns) {
  char buf[64];
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return false;
  buf[n] = '\0';
  return std::sscanf(buf, "pid:[%llu]", ns) == 1;
}

// "<digits>" of the whole string, else false.
bool parse_number(const std::string& s, unsigned long long* out) {
  if (s.empty() || s.size() > 20 || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
  *out = std::stoull(s);
  return true;
}

// "leakprobe.<ns>.<pid>" -> its parts; false for any other name.
bool parse_socket_name(const std::string& name, ControlSocketName* out) {
  const std::string prefix = format::kControlSocketPrefix;
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string rest = name.substr(prefix.size());
  const size_t dot = rest.find('.');
  unsigned long long ns = 0, pid = 0;
  if (dot == std::string::npos || !parse_number(rest.substr(0, dot), &ns) ||
      !parse_number(rest.substr(dot + 1), &pid) || pid == 0 || pid > 4194304) {
    return false;
  }
  out->name = name;
  out->ns = ns;
  out->inner_pid = static_cast<long>(pid);
  return true;
}

std::string socket_name(unsigned long long ns, long pid) {
  char name[96];
  format::control_socket_name(name, sizeof(name), ns, pid);
  return name;
}

// A connected socket to the abstract `name`, or -1 with errno set. The send timeout bounds a
// connect that waits for room in a full backlog.
int connect_to(const std::string& name, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.size() >= sizeof(addr.sun_path) - 1) {
    ::close(fd);
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // abstract: leading NUL
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

}  // namespace

TargetIdentity target_identity(int pid) {
  TargetIdentity id;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream status(proc + "/status");
  if (!status) return id;
  id.exists = true;
  id.inner_pid = pid;  // kernels before 4.1 have no NSpid line
  size_t levels = 1;
  for (std::string line; std::getline(status, line);) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "Uid:") {
      for (uid_t uid; fields >> uid;) id.uids.push_back(uid);
    } else if (key == "NSpid:") {
      levels = 0;
      for (long p; fields >> p; ++levels) id.inner_pid = p;
    }
  }
  id.ns_known = read_pid_namespace(proc + "/ns/pid", &id.ns);
  // A non-dumpable process of another user hides ns/pid, but with one NSpid level it lives in
  // the pid namespace /proc shows, which is ours.
  if (!id.ns_known && levels == 1) id.ns_known = read_pid_namespace("/proc/self/ns/pid", &id.ns);
  return id;
}

std::vector<ControlSocketName> listening_control_sockets(size_t limit) {
  std::vector<ControlSocketName> found;
  // "Num RefCount Protocol Flags Type St Inode Path": an abstract name shows as "@name".
  std::ifstream table("/proc/net/unix");
  std::string line;
  std::getline(table, line);                     // the header
  constexpr unsigned long kAcceptCon = 0x10000;  // __SO_ACCEPTCON: a listening socket
  while (found.size() < limit && std::getline(table, line)) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, inode, path;
    if (!(fields >> num >> refs >> protocol >> flags >> type >> state >> inode >> path)) continue;
    if (path.size() < 2 || path[0] != '@') continue;
    if ((std::strtoul(flags.c_str(), nullptr, 16) & kAcceptCon) == 0) continue;
    ControlSocketName s;
    if (!parse_socket_name(path.substr(1), &s)) continue;
    if (std::none_of(found.begin(), found.end(),
                     [&](const ControlSocketName& f) { return f.name == s.name; })) {
      found.push_back(s);
    }
  }
  return found;
}

VerifiedConnection connect_verified(int pid, std::chrono::milliseconds timeout) {
  VerifiedConnection result;
  const TargetIdentity id = target_identity(pid);
  if (!id.exists) return result;
  std::vector<uid_t> allowed = id.uids;
  allowed.push_back(0);
  allowed.push_back(::getuid());
  allowed.push_back(::geteuid());
  // True (and the connection kept) if `name` is held by `pid` under an allowed uid.
  auto try_name = [&](const std::string& name) {
    const int fd = connect_to(name, timeout);
    if (fd < 0) {
      if (!result.connect_errno) result.connect_errno = errno;
      return false;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    const bool got = ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
    const bool uid_ok = std::find(allowed.begin(), allowed.end(), cred.uid) != allowed.end();
    if (got && cred.pid == pid && uid_ok) {
      result.fd = fd;
      result.name = name;
      result.refusal.clear();
      return true;
    }
    ::close(fd);
    if (!got || !result.refusal.empty()) return false;  // the first stranger is named
    const std::string holder =
        cred.pid > 0 ? "pid " + std::to_string(cred.pid) : "a process outside this pid namespace";
    result.refusal = cred.pid == pid
                         ? "the control socket @" + name + " of pid " + std::to_string(pid) +
                               " was opened by uid " + std::to_string(cred.uid) +
                               ", neither root, this user nor the process's user"
                         : "the control socket @" + name + " is held by " + holder + " (uid " +
                               std::to_string(cred.uid) + "), not by pid " + std::to_string(pid);
    return false;
  };
  // The name the target's probe must have chosen, when its namespace is known; failing that,
  // any other listening name with its inner pid (its namespace hidden from this user).
  std::string first;
  if (id.ns_known) {
    first = socket_name(id.ns, id.inner_pid);
    if (try_name(first)) return result;
  }
  for (const auto& s : listening_control_sockets()) {
    if (s.inner_pid != id.inner_pid || s.name == first) continue;
    if (first.empty()) first = s.name;
    if (try_name(s.name)) return result;
  }
  result.tried = !first.empty() ? first : socket_name(id.ns, id.inner_pid);
  return result;
}

int verified_holder(const ControlSocketName& socket) {
  const int fd = connect_to(socket.name, std::chrono::milliseconds(1000));
  if (fd < 0) return 0;
  ucred cred{};
  socklen_t len = sizeof(cred);
  const bool got = ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
  ::close(fd);
  if (!got || cred.pid <= 0) return 0;  // not a process this pid namespace can name
  const TargetIdentity id = target_identity(cred.pid);
  if (!id.exists || id.inner_pid != socket.inner_pid) return 0;
  if (id.ns_known && id.ns != socket.ns) return 0;
  return cred.pid;
}

}  // namespace leakprobe::cli
