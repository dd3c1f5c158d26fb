#include "dumper.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "fd_numbers.h"
#include "fd_reserve.h"
#include "guard.h"
#include "libc_private.h"
#include "leakprobe/snapshot_format.h"
#include "log.h"
#include "snapshot_writer.h"
#include "tracker.h"

namespace leakprobe {
namespace {

struct DumperState {
  Tracker* tracker = nullptr;
  int pid = 0;
  int ppid = 0;  // set in a forked child
  unsigned next_sequence = 1;
  pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
  int listen_fd = -1;
  uid_t start_euid = 0;
  std::atomic<bool> socket_lost_said{false};
  bool started = false;
  std::atomic<bool> publish_failure_said{false};
};

DumperState g_dumper;
// The writer thread's tid (0 until it runs), and the flag the signal handler sets.
std::atomic<int> g_writer_tid{0};
std::atomic<bool> g_signal_pending{false};
// The signal trigger: on while our handler is installed and the host has not claimed the
// signal (see dumper_release_signal).
std::atomic<bool> g_signal_trigger_on{false};
struct sigaction g_replaced_action {};  // what our handler replaced (SIG_DFL)
std::atomic<bool> g_signal_release_said{false};

// How often the writer looks for a pending signal request. The writer never unblocks any
// signal: a thread of ours that accepted the signal would take deliveries from the host
// whenever the host wants the signal itself (its handler would run on our thread, or a
// host thread waiting in sigwaitinfo() would never see it). The handler therefore only
// sets a flag, and the writer, asleep in ppoll() on the control socket, wakes this often
// to look at it. No file descriptor is involved either: a host that closes "all"
// descriptors and reuses the numbers must never receive a byte meant for us.
constexpr int64_t kSignalTickMs = 200;

void on_signal(int, siginfo_t*, void*) {
  g_signal_pending.store(true, std::memory_order_relaxed);
}

struct WriteCtx {
  const char* trigger;
  timespec now;
};

bool write_content(int fd, unsigned sequence, void* p) {
  auto* ctx = static_cast<WriteCtx*>(p);
  SnapshotInfo info;
  info.pid = g_dumper.pid;
  info.ppid = g_dumper.ppid;
  info.sequence = sequence;
  info.trigger = ctx->trigger;
  info.time_sec = ctx->now.tv_sec;
  info.time_usec = ctx->now.tv_nsec / 1000;
  FdOut out(fd);
  return write_snapshot(out, *g_dumper.tracker, info);
}

void say_failure(const PublishResult& r) {
  if (g_dumper.publish_failure_said.exchange(true, std::memory_order_relaxed)) return;
  log_line(r.error, " ", r.path, ": ", strerrordesc_np(r.err));
  // Daemons started as root often drop to their own user (mosquitto does unless its
  // configuration says `user root`); the directory made at start is then root's 0700.
  if (r.err == EACCES && geteuid() != g_dumper.start_euid) {
    char uid[24];
    fmt_u64(uid, geteuid());
    log_line("the program changed its user to uid ", uid,
             " after start; make the snapshot directory writable for that user (or run it "
             "as the user it switches to)");
  }
}

void control_reply(int c, const char* a, const char* b = "", const char* d = "") {
  char line[PATH_MAX + 256];
  int n = snprintf(line, sizeof(line), "%s%s%s\n", a, b, d);
  if (n > 0) {
    ssize_t ignored =
        send(c, line, static_cast<size_t>(n) < sizeof(line) ? n : sizeof(line) - 1, MSG_NOSIGNAL);
    (void)ignored;
  }
}

void handle_client(int c) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      (cred.uid != geteuid() && cred.uid != 0)) {
    control_reply(c, "error permission denied");
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
  if (strcmp(req, format::kControlRequestSnapshot) != 0) {
    control_reply(c, "error unknown request (expected \"snapshot\")");
    return;
  }
  PublishResult r = dumper_snapshot(format::kTriggerRequest, -1);
  if (r.ok) {
    control_reply(c, "ok ", r.path);
  } else {
    control_reply(c, "error ", r.error, r.err ? ": see the program's stderr" : "");
  }
}

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// True if fd is still our control socket: the host may have closed it and reused the
// number for a socket of its own, whose connections we must not take.
bool still_our_socket(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  char name[64];
  control_socket_name(name, sizeof(name), g_dumper.pid);
  size_t n = strlen(name);
  return addr.sun_family == AF_UNIX && len == offsetof(sockaddr_un, sun_path) + 1 + n &&
         addr.sun_path[0] == '\0' && memcmp(addr.sun_path + 1, name, n) == 0;
}

void drop_control_socket() {
  g_dumper.listen_fd = -1;  // not closed: the number may belong to the host by now
  log_once(g_dumper.socket_lost_said,
           "the control socket was closed by the program; `leakprobe snapshot` cannot reach "
           "it any more (the signal still works)");
}

void* writer_main(void*) {
  t_in_probe = true;  // for life: nothing this thread allocates is the host's
  g_writer_tid.store(gettid(), std::memory_order_relaxed);
  const int64_t interval = static_cast<int64_t>(g_dumper.tracker->options().interval_ms);
  int64_t deadline = interval ? now_ms() + interval : 0;
  // While the host has used every descriptor, a waiting connection cannot be accepted and
  // keeps the socket readable: the socket is left out of ppoll() for a second at a time
  // instead of spinning.
  int64_t socket_paused_until = 0;
  for (;;) {
    if (g_signal_pending.exchange(false, std::memory_order_relaxed))
      dumper_snapshot(format::kTriggerSignal, -1);
    pollfd fds[1] = {{g_dumper.listen_fd, POLLIN, 0}};
    const int64_t paused_ms = socket_paused_until - now_ms();
    nfds_t nfds = g_dumper.listen_fd >= 0 && paused_ms <= 0 ? 1 : 0;
    int64_t wait_ms = -1;  // forever
    if (interval) {
      wait_ms = deadline - now_ms();
      if (wait_ms < 0) wait_ms = 0;
    }
    if (g_signal_trigger_on.load(std::memory_order_relaxed) &&
        (wait_ms < 0 || wait_ms > kSignalTickMs))
      wait_ms = kSignalTickMs;
    if (paused_ms > 0 && (wait_ms < 0 || wait_ms > paused_ms)) wait_ms = paused_ms;
    timespec timeout{};
    timespec* tp = nullptr;
    if (wait_ms >= 0) {
      timeout.tv_sec = wait_ms / 1000;
      timeout.tv_nsec = (wait_ms % 1000) * 1000000L;
      tp = &timeout;
    }
    int n = ppoll(fds, nfds, tp, nullptr);  // the thread's mask: everything blocked
    if (n < 0 && errno != EINTR) {
      log_line("writer thread: ppoll failed; snapshots now only at exit");
      return nullptr;
    }
    if (n > 0 && nfds && fds[0].revents) {
      if ((fds[0].revents & (POLLNVAL | POLLERR | POLLHUP)) || !still_our_socket(fds[0].fd)) {
        drop_control_socket();
      } else {
        int c = accept4(g_dumper.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          handle_client(c);
          close(c);
        } else if (errno == EBADF || errno == ENOTSOCK || errno == EINVAL) {
          drop_control_socket();
        } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
          socket_paused_until = now_ms() + 1000;  // EMFILE, ENFILE, ENOBUFS, ENOMEM
        }
      }
    }
    if (interval && now_ms() >= deadline) {
      dumper_snapshot(format::kTriggerInterval, -1);
      // Skip missed ticks rather than writing a burst after a long stall.
      int64_t now = now_ms();
      while (deadline <= now) deadline += interval;
    }
  }
}

int open_control_socket(int pid) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  char name[64];
  control_socket_name(name, sizeof(name), pid);
  size_t len = strlen(name);
  memcpy(addr.sun_path + 1, name, len);  // abstract: leading NUL, no file to clean up
  socklen_t alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + len);
  // Out of the way of the host's own numbering (see unwind.cpp for why low numbers are a
  // hazard when a host closes descriptors it did not open).
  int high = fcntl(fd, F_DUPFD_CLOEXEC, fd_numbers::kControlSocket);
  rlimit lim;
  // A smaller descriptor limit: near its top instead (the reserve and libunwind's pipe sit
  // just below it), still out of the host's way.
  if (high < 0 && getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur > 128)
    high = fcntl(fd, F_DUPFD_CLOEXEC,
                 static_cast<int>(lim.rlim_cur) - fd_numbers::kControlSocketBelowLimit);
  if (high >= 0) {
    close(fd);
    fd = high;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), alen) != 0 || listen(fd, 8) != 0) {
    log_line("cannot open the control socket @", name, ": ", strerrordesc_np(errno),
             " (signal and interval snapshots still work)");
    close(fd);
    return -1;
  }
  return fd;
}

void install_signal(int sig) {
  // __sigaction, not sigaction: ours is interposed and would treat this as the host's call.
  struct sigaction cur {};
  if (__sigaction(sig, nullptr, &cur) != 0) return;
  if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL) {
    struct sigaction sa {};
    sa.sa_sigaction = on_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    g_replaced_action = cur;
    if (__sigaction(sig, &sa, nullptr) == 0) g_signal_trigger_on.store(true);
    return;
  }
  char num[16];
  fmt_u64(num, static_cast<uint64_t>(sig));
  log_line("signal ", num,
           cur.sa_handler == SIG_IGN ? " is ignored by this program" : " is in use by this program",
           "; the signal trigger is off (`leakprobe snapshot PID` and LEAKPROBE_INTERVAL still "
           "work)");
}

// Starts pipe, socket and thread for the current process (used at start and in a child).
bool start_machinery() {
  g_dumper.listen_fd =
      g_dumper.tracker->options().control_socket ? open_control_socket(g_dumper.pid) : -1;

  // The thread inherits the creating thread's mask: block everything around the create so
  // that no host signal is ever delivered to (and lost in) the writer.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  int rc = pthread_create(&th, &attr, writer_main, nullptr);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) {
    log_line("cannot start the writer thread; snapshots only at exit");
    return false;
  }
#ifdef __GLIBC__
  pthread_setname_np(th, "leakprobe");
#endif
  return true;
}

}  // namespace

void control_socket_name(char* out, unsigned size, int pid) {
  snprintf(out, size, "%s%d", format::kControlSocketPrefix, pid);
}

bool dumper_start(Tracker* t) {
  g_dumper.tracker = t;
  g_dumper.pid = getpid();
  g_dumper.start_euid = geteuid();
  const Options& o = t->options();
  // The directory is created if missing (one level, 0700); a failure shows at the first
  // snapshot, with the path.
  mkdir(o.output_dir, 0700);
  if (o.signal) install_signal(o.signal);
  fd_reserve_fill();
  g_dumper.started = start_machinery();
  return g_dumper.started;
}

bool dumper_signal_is_ours(int sig) {
  return sig > 0 && g_dumper.tracker && sig == g_dumper.tracker->options().signal &&
         g_signal_trigger_on.load();
}

void dumper_hide_own_handler(struct sigaction* current) {
  if (current && (current->sa_flags & SA_SIGINFO) && current->sa_sigaction == on_signal)
    *current = g_replaced_action;
}

void dumper_release_signal() {
  if (!g_signal_trigger_on.exchange(false)) return;
  // Nothing to undo in the writer: it never accepts the signal (see kSignalTickMs). A
  // request that our handler flagged just before is still served.
  char num[16];
  fmt_u64(num, static_cast<uint64_t>(g_dumper.tracker->options().signal));
  log_once(g_signal_release_said, "the program installed its own handler for signal ", num,
           "; the signal trigger is off (`leakprobe snapshot PID` and LEAKPROBE_INTERVAL still "
           "work)");
}

namespace {

bool lock_writer(int wait_ms, const char* trigger) {
  if (wait_ms < 0) return pthread_mutex_lock(&g_dumper.write_lock) == 0;
  timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += wait_ms / 1000;
  until.tv_nsec += (wait_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec += 1;
    until.tv_nsec -= 1000000000L;
  }
  if (pthread_mutex_timedlock(&g_dumper.write_lock, &until) == 0) return true;
  log_line("a snapshot in progress did not finish in time; skipping the ", trigger, " snapshot");
  return false;
}

// Caller holds write_lock.
PublishResult snapshot_locked(const char* trigger) {
  WriteCtx ctx{trigger, {}};
  clock_gettime(CLOCK_REALTIME, &ctx.now);
  // Not in a vfork child (see dumper_at_exit): its descriptor table is its own, but the
  // reserve's bookkeeping is the parent's.
  const bool own_process = getpid() == g_dumper.pid;
  if (own_process) fd_reserve_release();
  PublishResult r = publish_snapshot(g_dumper.tracker->options().output_dir, g_dumper.pid,
                                     g_dumper.next_sequence, write_content, &ctx);
  if (own_process && trigger != format::kTriggerExit) fd_reserve_fill();
  if (r.ok)
    g_dumper.next_sequence = r.sequence + 1;
  else
    say_failure(r);
  return r;
}

}  // namespace

PublishResult dumper_snapshot(const char* trigger, int wait_ms) {
  Guard g;
  PublishResult r;
  if (!g_dumper.tracker) {
    r.error = "the probe is not running";
    return r;
  }
  if (!lock_writer(wait_ms, trigger)) {
    r.error = "a snapshot in progress did not finish in time";
    return r;
  }
  r = snapshot_locked(trigger);
  pthread_mutex_unlock(&g_dumper.write_lock);
  return r;
}

void dumper_at_exit() {
  if (!g_dumper.tracker) return;
  Guard g;
  // Bounded: a process must never hang in exit because the writer is busy (or stuck on a
  // dead NFS server).
  if (!lock_writer(10000, format::kTriggerExit)) return;
  if (g_dumper.tracker->options().at_exit) snapshot_locked(format::kTriggerExit);
  if (getpid() != g_dumper.pid) {
    // A vfork child that called exit() instead of _exit(): it runs (and uses up) the
    // parent's atexit list in the parent's memory. The snapshot above is the parent's state,
    // under the parent's pid; the lock is the parent's too and must be given back, or the
    // parent's writer would wait for it for the rest of the parent's life.
    pthread_mutex_unlock(&g_dumper.write_lock);
    return;
  }
  // Deliberately never released: a snapshot started by the writer thread after this point
  // could be cut short by the process ending and leave a temporary file behind.
}

namespace {
bool g_locked_for_fork = false;  // only touched by the forking thread, under atfork
}

void dumper_lock_for_fork() {
  g_locked_for_fork = false;
  if (!g_dumper.tracker) return;
  timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 2;
  g_locked_for_fork = pthread_mutex_timedlock(&g_dumper.write_lock, &until) == 0;
}

void dumper_unlock_after_fork_in_parent() {
  if (g_locked_for_fork) pthread_mutex_unlock(&g_dumper.write_lock);
  g_locked_for_fork = false;
}

void dumper_restart_in_child() {
  g_locked_for_fork = false;  // the mutex is re-initialised below
  if (!g_dumper.tracker) return;
  // The parent's descriptors stay open in the parent; ours go. The lock may have been held
  // by the parent's writer thread, which does not exist here.
  g_writer_tid.store(0, std::memory_order_relaxed);  // the parent's writer is not ours
  if (g_dumper.listen_fd >= 0 && still_our_socket(g_dumper.listen_fd)) close(g_dumper.listen_fd);
  g_dumper.listen_fd = -1;
  g_dumper.socket_lost_said.store(false);
  pthread_mutex_init(&g_dumper.write_lock, nullptr);
  g_dumper.ppid = g_dumper.pid;
  g_dumper.pid = getpid();
  g_dumper.next_sequence = 1;
  g_dumper.publish_failure_said.store(false);
  if (g_dumper.started) g_dumper.started = start_machinery();
}

}  // namespace leakprobe
