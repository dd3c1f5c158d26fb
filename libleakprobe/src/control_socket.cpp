#include "control_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "fd_numbers.h"
#include "leakprobe/snapshot_format.h"
#include "log.h"
#include "pid_namespace.h"

namespace leakprobe {
namespace {

ControlSocket g_control;

void reply(int c, const char* word, const char* text) {
  char line[PATH_MAX + 256];
  int n = snprintf(line, sizeof(line), "%s%s\n", word, text);
  if (n > 0) {
    ssize_t ignored =
        send(c, line, static_cast<size_t>(n) < sizeof(line) ? n : sizeof(line) - 1, MSG_NOSIGNAL);
    (void)ignored;
  }
}

}  // namespace

ControlSocket& control_socket() { return g_control; }

// What a missing control socket costs, said with every reason it can be missing.
constexpr const char kWithoutSocket[] =
    "; `leakprobe snapshot`, `enable`, `disable` and `list` cannot reach this process";

// The lowest number the control socket may take: fd_numbers::kControlSocket, or near the top
// of a smaller descriptor limit; -1 when the limit is too small to spare one (any number we
// held would be one the host can no longer open).
namespace {
int socket_floor() {
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return fd_numbers::kControlSocket;
  if (lim.rlim_cur > static_cast<rlim_t>(fd_numbers::kControlSocket))
    return fd_numbers::kControlSocket;
  if (lim.rlim_cur < static_cast<rlim_t>(fd_numbers::kControlSocketMinLimit)) return -1;
  return static_cast<int>(lim.rlim_cur) - fd_numbers::kControlSocketBelowLimit;
}
}  // namespace

bool ControlSocket::open(int pid, const ControlRequests& requests) {
  requests_ = requests;
  fd_ = -1;
  format::control_socket_name(name_, sizeof(name_), own_pid_namespace(), pid);
  // Said once per process tree: a forking host under a small limit must not repeat it.
  static std::atomic<bool> no_room_said{false};
  // Out of the way of the host's own numbering: a host that closes descriptors it did not
  // open and reuses the numbers must never be handed ours, and a host near its limit must
  // never find one of its low numbers taken (fd_numbers.h). Never kept at a low number.
  const int lowest = socket_floor();
  if (lowest < 0) {
    log_once(no_room_said,
             "the descriptor limit (RLIMIT_NOFILE) is too small to keep a control socket out "
             "of the program's way (below 64): no control socket",
             kWithoutSocket, " (the signal and LEAKPROBE_INTERVAL still work)");
    return false;
  }
  int low = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (low < 0) {
    log_line("cannot create the control socket: ", strerrordesc_np(errno), kWithoutSocket);
    return false;
  }
  int fd = fcntl(low, F_DUPFD_CLOEXEC, lowest);
  close(low);
  if (fd < 0) {
    log_once(no_room_said,
             "no free descriptor at the top of the descriptor limit: no control socket",
             kWithoutSocket, " (the signal and LEAKPROBE_INTERVAL still work)");
    return false;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = strlen(name_);
  memcpy(addr.sun_path + 1, name_, len);  // abstract: leading NUL, no file to clean up
  socklen_t alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + len);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), alen) != 0 || listen(fd, 8) != 0) {
    log_line("cannot open the control socket @", name_, ": ", strerrordesc_np(errno),
             kWithoutSocket);
    close(fd);
    return false;
  }
  lost_said_.store(false);
  fd_ = fd;
  return true;
}

// True if fd_ is still our control socket: the host may have closed it and reused the
// number for a socket of its own, whose connections we must not take.
bool ControlSocket::still_ours() const {
  if (fd_ < 0) return false;
  sockaddr_un addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  size_t n = strlen(name_);
  return addr.sun_family == AF_UNIX && len == offsetof(sockaddr_un, sun_path) + 1 + n &&
         addr.sun_path[0] == '\0' && memcmp(addr.sun_path + 1, name_, n) == 0;
}

void ControlSocket::close_unserved() {
  if (still_ours()) close(fd_);
  fd_ = -1;
}

void ControlSocket::drop() {
  fd_ = -1;  // not closed: the number may belong to the host by now
  log_once(lost_said_,
           "the control socket was closed by the program; `leakprobe snapshot` cannot reach "
           "it any more (the signal still works)");
}

ControlSocket::Served ControlSocket::serve(short revents) {
  if ((revents & (POLLNVAL | POLLERR | POLLHUP)) || !still_ours()) {
    drop();
    return Served::kDone;
  }
  int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (c >= 0) {
    handle_client(c);
    close(c);
  } else if (errno == EBADF || errno == ENOTSOCK || errno == EINVAL) {
    drop();
  } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
    return Served::kRetryLater;  // EMFILE, ENFILE, ENOBUFS, ENOMEM
  }
  return Served::kDone;
}

void ControlSocket::handle_client(int c) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      (cred.uid != geteuid() && cred.uid != 0)) {
    char why[96];
    snprintf(why, sizeof(why), "permission denied: this probe answers root and uid %u only",
             static_cast<unsigned>(geteuid()));
    reply(c, format::kControlReplyError, why);
    return;
  }
  // A client that connects and never speaks must not stall the writer for long.
  timeval tv{2, 0};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char req[64];
  size_t got = 0;
  while (got < sizeof(req) - 1) {
    ssize_t n = recv(c, req + got, sizeof(req) - 1 - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
    if (memchr(req, '\n', got)) break;
  }
  req[got] = '\0';
  const bool enable = strcmp(req, format::kControlRequestEnable) == 0;
  char text[PATH_MAX + 192];
  text[0] = '\0';
  bool ok;
  if ((enable || strcmp(req, format::kControlRequestDisable) == 0) && requests_.set_recording) {
    ok = requests_.set_recording(enable, text, sizeof(text));
  } else if (strcmp(req, format::kControlRequestStatus) == 0 && requests_.status) {
    ok = requests_.status(text, sizeof(text));
  } else if (strcmp(req, format::kControlRequestSnapshot) == 0 && requests_.snapshot) {
    ok = requests_.snapshot(text, sizeof(text));
  } else if (strcmp(req, format::kControlRequestPeak) == 0 && requests_.peak) {
    ok = requests_.peak(text, sizeof(text));
  } else if (strcmp(req, format::kControlRequestTrim) == 0 && requests_.trim) {
    ok = requests_.trim(text, sizeof(text));
  } else if (strcmp(req, format::kControlRequestDetach) == 0) {
    ok = requests_.detach && requests_.detach(text, sizeof(text));
    if (!requests_.detach)
      snprintf(text, sizeof(text),
               "the probe was preloaded, not attached: nothing to put back (use disable)");
  } else {
    ok = false;
    snprintf(text, sizeof(text),
             "unknown request (expected \"snapshot\", \"peak\", \"enable\", \"disable\", "
             "\"status\", \"trim\" or \"detach\")");
  }
  reply(c, ok ? format::kControlReplyOk : format::kControlReplyError, text);
}

void ControlSocket::forget_in_child() {
  if (still_ours()) close(fd_);
  fd_ = -1;
}

}  // namespace leakprobe
