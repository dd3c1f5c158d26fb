#include "fd_scan.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "resource_table.h"
#include "text_out.h"

namespace leakprobe {
namespace {

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

bool parse_fd(const char* s, int* out) {
  if (!*s) return false;
  int64_t v = 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return false;
    v = v * 10 + (*s - '0');
    if (v > 0x7fffffff) return false;
  }
  *out = static_cast<int>(v);
  return true;
}

bool starts_with(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

// Calls fn(fd) for every open descriptor but the directory's own. False if unreadable.
template <class Fn>
bool for_each_open_fd(Fn fn) {
  const int saved_errno = errno;
  int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    errno = saved_errno;
    return false;
  }
  alignas(8) char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof(buf));
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
      int fd;
      if (parse_fd(d->d_name, &fd) && fd != dir) fn(fd);
      off += d->d_reclen;
    }
  }
  close(dir);
  errno = saved_errno;
  return true;
}

}  // namespace

int scan_open_fds(uint64_t* bits, int nbits) {
  int top = 0;
  bool ok = for_each_open_fd([&](int fd) {
    if (fd < nbits) bits[fd / 64] |= uint64_t{1} << (fd % 64);
    if (fd + 1 > top) top = fd + 1;
  });
  return ok ? top : -1;
}

format::ResourceKind classify_fd(int fd) {
  using K = format::ResourceKind;
  const int saved_errno = errno;
  char path[16 + kMaxDecimal] = "/proc/self/fd/";
  format_decimal(path + strlen(path), static_cast<unsigned>(fd));
  char link[256];
  ssize_t len = readlink(path, link, sizeof(link) - 1);
  K kind = K::kOtherFd;
  if (len > 0) {
    link[len] = '\0';
    if (starts_with(link, "socket:")) {
      int domain = 0, type = 0;
      socklen_t dl = sizeof(domain), tl = sizeof(type);
      if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0 &&
          getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0)
        kind = socket_kind(domain, type);
    } else if (starts_with(link, "pipe:")) {
      kind = K::kPipe;
    } else if (starts_with(link, "anon_inode:")) {
      const char* what = link + strlen("anon_inode:");
      if (!strcmp(what, "[timerfd]"))
        kind = K::kTimerfd;
      else if (!strcmp(what, "[eventfd]"))
        kind = K::kEventfd;
      else if (!strcmp(what, "[eventpoll]"))
        kind = K::kEpoll;
    } else if (starts_with(link, "/memfd:")) {
      kind = K::kMemfd;
    } else if (link[0] == '/') {
      kind = K::kFile;
    }
  }
  errno = saved_errno;
  return kind;
}

void record_inherited_fds(ResourceTable& t) {
  for_each_open_fd([&](int fd) { t.fd_inherited(fd, classify_fd(fd)); });
}

}  // namespace leakprobe
