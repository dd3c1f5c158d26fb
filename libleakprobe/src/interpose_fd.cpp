// The interposed descriptor API: extern "C" symbols only. Each forwards to the next
// definition (glibc's), then tells the resource table what happened: creations after the
// real call, releases before it (resource_table.h says why). No extra system call on any of
// these paths; errno is the real call's.
//
// What no interposer sees (docs/guide.md, "What resource tracking cannot see"): descriptors
// that glibc opens and closes internally (opendir, popen, tmpfile, getaddrinfo's sockets,
// syslog), and raw syscall(SYS_...) calls. Snapshots reconcile the table with /proc/self/fd
// for those (resource_writer.cpp).
#undef _FORTIFY_SOURCE
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "guard.h"
#include "interposer.h"
#include "resource_gate.h"
#include "resource_table.h"

// The fortified entry points glibc's headers call when _FORTIFY_SOURCE is on in the host.
extern "C" int __open_2(const char*, int);
extern "C" int __open64_2(const char*, int);
extern "C" int __openat_2(int, const char*, int);
extern "C" int __openat64_2(int, const char*, int);

namespace {

using leakprobe::ResourceKind;
using leakprobe::ResourceTable;

// A descriptor the calling code now holds. With the guard held the caller is the probe
// itself (or something it called, like the unwinder): its descriptors are marked, never
// reported.
void created(int fd, ResourceKind kind) {
  if (fd < 0) return;
  if (leakprobe::guard_held()) {
    // Marked even while dormant: a snapshot must never count the probe's own as untracked.
    if (ResourceTable* t = leakprobe::resources_for_release()) t->fd_own(fd);
    return;
  }
  ResourceTable* t = leakprobe::resources_for_create();
  if (!t) return;
  leakprobe::Guard g;  // the unwinder may allocate or open descriptors: they are not the host's
  t->fd_created_here(fd, kind);
}

void created_pair(int rc, const int fds[2], ResourceKind kind) {
  if (rc != 0) return;
  created(fds[0], kind);
  created(fds[1], kind);
}

void closing(int fd) {
  if (ResourceTable* t = leakprobe::resources_for_release()) t->fd_closed(fd);
}

// A copy of `old` at `fd`: the same kind as the original.
void duplicated(int fd, int old) {
  if (fd < 0) return;
  ResourceTable* t = leakprobe::resources_for_release();
  created(fd, t ? t->fd_kind(old) : ResourceKind::kOtherFd);
}

// open's optional third argument, read only when the flags say it is there (as glibc does).
bool needs_mode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

using open_fn = int (*)(const char*, int, ...);
using openat_fn = int (*)(int, const char*, int, ...);
using open2_fn = int (*)(const char*, int);
using openat2_fn = int (*)(int, const char*, int);
using creat_fn = int (*)(const char*, mode_t);
using fopen_fn = FILE* (*)(const char*, const char*);
using fdopen_fn = FILE* (*)(int, const char*);
using fclose_fn = int (*)(FILE*);
using socket_fn = int (*)(int, int, int);
using socketpair_fn = int (*)(int, int, int, int*);
using accept_fn = int (*)(int, sockaddr*, socklen_t*);
using accept4_fn = int (*)(int, sockaddr*, socklen_t*, int);
using pipe_fn = int (*)(int*);
using pipe2_fn = int (*)(int*, int);
using dup_fn = int (*)(int);
using dup2_fn = int (*)(int, int);
using dup3_fn = int (*)(int, int, int);
using fcntl_fn = int (*)(int, int, ...);
using eventfd_fn = int (*)(unsigned, int);
using timerfd_fn = int (*)(int, int);
using epoll_create_fn = int (*)(int);
using signalfd_fn = int (*)(int, const sigset_t*, int);
using inotify_init_fn = int (*)();
using inotify_init1_fn = int (*)(int);
using memfd_fn = int (*)(const char*, unsigned);
using close_fn = int (*)(int);
using close_range_fn = int (*)(unsigned, unsigned, int);
using closefrom_fn = void (*)(int);
using recvmsg_fn = ssize_t (*)(int, msghdr*, int);

LP_NEXT_SLOT(open, open_fn);
LP_NEXT_SLOT(open64, open_fn);
LP_NEXT_SLOT(openat, openat_fn);
LP_NEXT_SLOT(openat64, openat_fn);
LP_NEXT_SLOT(__open_2, open2_fn);
LP_NEXT_SLOT(__open64_2, open2_fn);
LP_NEXT_SLOT(__openat_2, openat2_fn);
LP_NEXT_SLOT(__openat64_2, openat2_fn);
LP_NEXT_SLOT(creat, creat_fn);
LP_NEXT_SLOT(creat64, creat_fn);
LP_NEXT_SLOT(fopen, fopen_fn);
LP_NEXT_SLOT(fopen64, fopen_fn);
LP_NEXT_SLOT(fdopen, fdopen_fn);
LP_NEXT_SLOT(fclose, fclose_fn);
LP_NEXT_SLOT(socket, socket_fn);
LP_NEXT_SLOT(socketpair, socketpair_fn);
LP_NEXT_SLOT(accept, accept_fn);
LP_NEXT_SLOT(accept4, accept4_fn);
LP_NEXT_SLOT(pipe, pipe_fn);
LP_NEXT_SLOT(pipe2, pipe2_fn);
LP_NEXT_SLOT(dup, dup_fn);
LP_NEXT_SLOT(dup2, dup2_fn);
LP_NEXT_SLOT(dup3, dup3_fn);
LP_NEXT_SLOT(fcntl, fcntl_fn);
LP_NEXT_SLOT(fcntl64, fcntl_fn);
LP_NEXT_SLOT(eventfd, eventfd_fn);
LP_NEXT_SLOT(timerfd_create, timerfd_fn);
LP_NEXT_SLOT(epoll_create, epoll_create_fn);
LP_NEXT_SLOT(epoll_create1, epoll_create_fn);
LP_NEXT_SLOT(signalfd, signalfd_fn);
LP_NEXT_SLOT(inotify_init, inotify_init_fn);
LP_NEXT_SLOT(inotify_init1, inotify_init1_fn);
LP_NEXT_SLOT(memfd_create, memfd_fn);
LP_NEXT_SLOT(close, close_fn);
LP_NEXT_SLOT(close_range, close_range_fn);
LP_NEXT_SLOT(closefrom, closefrom_fn);
LP_NEXT_SLOT(recvmsg, recvmsg_fn);

int do_fcntl(fcntl_fn real, int fd, int cmd, void* arg) {
  int rc = real(fd, cmd, arg);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) duplicated(rc, fd);
  return rc;
}

// Descriptors that arrived in SCM_RIGHTS messages. The control buffer is walked by hand:
// CMSG_NXTHDR may be an out-of-line libc call.
void received(const msghdr* msg) {
  if (!msg || !msg->msg_control || msg->msg_controllen < sizeof(cmsghdr)) return;
  const char* p = static_cast<const char*>(msg->msg_control);
  const char* end = p + msg->msg_controllen;
  while (p + sizeof(cmsghdr) <= end) {
    const auto* c = reinterpret_cast<const cmsghdr*>(p);
    if (c->cmsg_len < sizeof(cmsghdr) || p + c->cmsg_len > end) break;
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const auto* fds = reinterpret_cast<const int*>(CMSG_DATA(c));
      for (size_t i = 0; i < n; ++i) {
        int fd;
        __builtin_memcpy(&fd, fds + i, sizeof(int));
        // The sender's kind is not in the message, and asking the kernel costs a system
        // call on the host's path.
        created(fd, ResourceKind::kOtherFd);
      }
    }
    p += (c->cmsg_len + sizeof(size_t) - 1) & ~(sizeof(size_t) - 1);
  }
}

}  // namespace

namespace leakprobe {
// Called from the constructor: every dlsym here, while the process is single-threaded.
void resolve_fd_functions() {
  LP_NEXT(open), LP_NEXT(open64), LP_NEXT(openat), LP_NEXT(openat64), LP_NEXT(__open_2);
  LP_NEXT(__open64_2), LP_NEXT(__openat_2), LP_NEXT(__openat64_2), LP_NEXT(creat);
  LP_NEXT(creat64), LP_NEXT(fopen), LP_NEXT(fopen64), LP_NEXT(fdopen), LP_NEXT(fclose);
  LP_NEXT(socket), LP_NEXT(socketpair), LP_NEXT(accept), LP_NEXT(accept4), LP_NEXT(pipe);
  LP_NEXT(pipe2), LP_NEXT(dup), LP_NEXT(dup2), LP_NEXT(dup3), LP_NEXT(fcntl), LP_NEXT(fcntl64);
  LP_NEXT(eventfd), LP_NEXT(timerfd_create), LP_NEXT(epoll_create), LP_NEXT(epoll_create1);
  LP_NEXT(signalfd), LP_NEXT(inotify_init), LP_NEXT(inotify_init1), LP_NEXT(memfd_create);
  LP_NEXT(close), LP_NEXT(close_range), LP_NEXT(closefrom), LP_NEXT(recvmsg);
}
}  // namespace leakprobe

namespace {

// The four open entry points and their fortified forms: one body, the next definition's
// descriptor is a file.
int opened(int fd) {
  created(fd, ResourceKind::kFile);
  return fd;
}

// open's optional third argument, read only when the flags say it is there (as glibc does);
// the next definition is then called with it, or without it as the host called us.
template <typename Next, typename... Lead>
int open_file(Next next, int flags, va_list ap, Lead... lead) {
  if (!needs_mode(flags)) return opened(next(lead..., flags));
  const mode_t mode = static_cast<mode_t>(va_arg(ap, int));
  return opened(next(lead..., flags, mode));
}

}  // namespace

LP_EXPORT int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const int fd = open_file(LP_NEXT(open), flags, ap, path);
  va_end(ap);
  return fd;
}
LP_EXPORT int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const int fd = open_file(LP_NEXT(open64), flags, ap, path);
  va_end(ap);
  return fd;
}
LP_EXPORT int openat(int dir, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const int fd = open_file(LP_NEXT(openat), flags, ap, dir, path);
  va_end(ap);
  return fd;
}
LP_EXPORT int openat64(int dir, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const int fd = open_file(LP_NEXT(openat64), flags, ap, dir, path);
  va_end(ap);
  return fd;
}

LP_EXPORT int __open_2(const char* path, int flags) {
  return opened(LP_NEXT(__open_2)(path, flags));
}
LP_EXPORT int __open64_2(const char* path, int flags) {
  return opened(LP_NEXT(__open64_2)(path, flags));
}
LP_EXPORT int __openat_2(int dir, const char* path, int flags) {
  return opened(LP_NEXT(__openat_2)(dir, path, flags));
}
LP_EXPORT int __openat64_2(int dir, const char* path, int flags) {
  return opened(LP_NEXT(__openat64_2)(dir, path, flags));
}

LP_EXPORT int creat(const char* path, mode_t mode) { return opened(LP_NEXT(creat)(path, mode)); }
LP_EXPORT int creat64(const char* path, mode_t mode) {
  return opened(LP_NEXT(creat64)(path, mode));
}

// glibc's stdio opens through its internal open, which no interposer sees: recorded here.
LP_EXPORT FILE* fopen(const char* path, const char* mode) {
  FILE* f = LP_NEXT(fopen)(path, mode);
  if (f) created(fileno(f), ResourceKind::kFile);
  return f;
}
LP_EXPORT FILE* fopen64(const char* path, const char* mode) {
  FILE* f = LP_NEXT(fopen64)(path, mode);
  if (f) created(fileno(f), ResourceKind::kFile);
  return f;
}
// fdopen creates no descriptor: it keeps its creating stack. One the probe never saw created
// is attributed here.
LP_EXPORT FILE* fdopen(int fd, const char* mode) noexcept {
  FILE* f = LP_NEXT(fdopen)(fd, mode);
  ResourceTable* t = leakprobe::resources_for_release();
  if (f && t && !t->fd_known(fd)) created(fd, ResourceKind::kFile);
  return f;
}
LP_EXPORT int fclose(FILE* f) {
  if (f) {
    const int saved_errno = errno;
    int fd = fileno(f);  // -1 (and EBADF) for memory streams
    errno = saved_errno;
    if (fd >= 0) closing(fd);
  }
  return LP_NEXT(fclose)(f);
}

LP_EXPORT int socket(int domain, int type, int protocol) noexcept {
  int fd = LP_NEXT(socket)(domain, type, protocol);
  created(fd, leakprobe::socket_kind(domain, type));
  return fd;
}
LP_EXPORT int socketpair(int domain, int type, int protocol, int sv[2]) noexcept {
  int rc = LP_NEXT(socketpair)(domain, type, protocol, sv);
  created_pair(rc, sv, leakprobe::socket_kind(domain, type));
  return rc;
}
LP_EXPORT int accept(int fd, sockaddr* addr, socklen_t* len) {
  int c = LP_NEXT(accept)(fd, addr, len);
  duplicated(c, fd);  // a connection of the listener's kind
  return c;
}
LP_EXPORT int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  int c = LP_NEXT(accept4)(fd, addr, len, flags);
  duplicated(c, fd);
  return c;
}

LP_EXPORT int pipe(int fds[2]) noexcept {
  int rc = LP_NEXT(pipe)(fds);
  created_pair(rc, fds, ResourceKind::kPipe);
  return rc;
}
LP_EXPORT int pipe2(int fds[2], int flags) noexcept {
  int rc = LP_NEXT(pipe2)(fds, flags);
  created_pair(rc, fds, ResourceKind::kPipe);
  return rc;
}

LP_EXPORT int dup(int old) noexcept {
  int fd = LP_NEXT(dup)(old);
  duplicated(fd, old);
  return fd;
}
// The descriptor that was at `fd` is closed by the kernel as part of the call; recording the
// copy there releases it (ResourceTable::set_entry). dup2(x, x) creates nothing.
LP_EXPORT int dup2(int old, int fd) noexcept {
  int rc = LP_NEXT(dup2)(old, fd);
  if (rc >= 0 && old != fd) duplicated(rc, old);
  return rc;
}
LP_EXPORT int dup3(int old, int fd, int flags) noexcept {
  int rc = LP_NEXT(dup3)(old, fd, flags);
  duplicated(rc, old);
  return rc;
}

LP_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);  // as glibc reads it: every fcntl argument fits a pointer
  va_end(ap);
  return do_fcntl(LP_NEXT(fcntl), fd, cmd, arg);
}
LP_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return do_fcntl(LP_NEXT(fcntl64), fd, cmd, arg);
}

LP_EXPORT int eventfd(unsigned count, int flags) noexcept {
  int fd = LP_NEXT(eventfd)(count, flags);
  created(fd, ResourceKind::kEventfd);
  return fd;
}
LP_EXPORT int timerfd_create(int clock, int flags) noexcept {
  int fd = LP_NEXT(timerfd_create)(clock, flags);
  created(fd, ResourceKind::kTimerfd);
  return fd;
}
LP_EXPORT int epoll_create(int size) noexcept {
  int fd = LP_NEXT(epoll_create)(size);
  created(fd, ResourceKind::kEpoll);
  return fd;
}
LP_EXPORT int epoll_create1(int flags) noexcept {
  int fd = LP_NEXT(epoll_create1)(flags);
  created(fd, ResourceKind::kEpoll);
  return fd;
}
LP_EXPORT int signalfd(int fd, const sigset_t* mask, int flags) noexcept {
  int rc = LP_NEXT(signalfd)(fd, mask, flags);
  if (fd == -1) created(rc, ResourceKind::kOtherFd);  // else it changed an existing one
  return rc;
}
LP_EXPORT int inotify_init() noexcept {
  int fd = LP_NEXT(inotify_init)();
  created(fd, ResourceKind::kOtherFd);
  return fd;
}
LP_EXPORT int inotify_init1(int flags) noexcept {
  int fd = LP_NEXT(inotify_init1)(flags);
  created(fd, ResourceKind::kOtherFd);
  return fd;
}
LP_EXPORT int memfd_create(const char* name, unsigned flags) noexcept {
  int fd = LP_NEXT(memfd_create)(name, flags);
  created(fd, ResourceKind::kMemfd);
  return fd;
}

LP_EXPORT int close(int fd) {
  closing(fd);
  return LP_NEXT(close)(fd);
}
LP_EXPORT int close_range(unsigned first, unsigned last, int flags) noexcept {
  // CLOSE_RANGE_CLOEXEC only marks the descriptors; everything else closes them.
  if (!(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
    if (ResourceTable* t = leakprobe::resources_for_release()) t->fds_closed(first, last);
  return LP_NEXT(close_range)(first, last, flags);
}
LP_EXPORT void closefrom(int low) noexcept {
  if (low >= 0)
    if (ResourceTable* t = leakprobe::resources_for_release())
      t->fds_closed(static_cast<unsigned>(low), ~0u);
  LP_NEXT(closefrom)(low);
}

LP_EXPORT ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  ssize_t n = LP_NEXT(recvmsg)(fd, msg, flags);
  if (n >= 0) received(msg);
  return n;
}
