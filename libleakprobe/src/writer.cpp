#include "writer.h"

#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "age_census.h"
#include "control_socket.h"
#include "fd_reserve.h"
#include "guard.h"
#include "leakprobe/snapshot_format.h"
#include "log.h"
#include "peak_watch.h"
#include "pid_namespace.h"
#include "preload_order.h"
#include "recording_switch.h"
#include "retention.h"
#include "signal_trigger.h"
#include "snapshot_writer.h"
#include "tracker.h"
#include "trim.h"

namespace leakprobe {
namespace {

// How often the writer looks for a pending signal request. The writer never unblocks any
// signal: a thread of ours that accepted the signal would take deliveries from the host
// whenever the host wants the signal itself (its handler would run on our thread, or a
// host thread waiting in sigwaitinfo() would never see it). The handler therefore only
// sets a flag, and the writer, asleep in ppoll() on the control socket, wakes this often
// to look at it.
constexpr int64_t kSignalTickMs = 200;

// While the host has used every descriptor, a waiting connection cannot be accepted and
// keeps the socket readable: it is left out of ppoll() this long instead of spinning.
constexpr int64_t kSocketPauseMs = 1000;

// LEAKPROBE_PEAK: how often the writer adds up the live heap (a pass over the stack table's
// counters, ~1 ms at 262k stacks) while recording. Peaks are found on the writer thread, so an
// allocation pays nothing for them; the price is that a peak held for less than this may be
// missed.
constexpr int64_t kPeakTickMs = 250;

class Writer {
 public:
  bool start(Tracker* t, const WriterConfig& config);
  PublishResult snapshot(const char* trigger, int wait_ms);
  void at_exit();
  void lock_for_fork();
  void unlock_after_fork_in_parent();
  void restart_in_child();

 private:
  static void* thread_main(void*);
  static bool request_snapshot(char* reply, size_t size);
  static bool status(char* reply, size_t size);
  static bool peak_request(char* reply, size_t size);
  void check_peak();
  void describe_failure(const PublishResult& r, char* out, size_t size) const;
  static bool write_content(int fd, unsigned sequence, void* ctx);
  bool start_thread();
  void loop();
  bool lock(int wait_ms, const char* trigger);
  PublishResult snapshot_locked(const char* trigger);  // caller holds lock_
  void say_failure(const PublishResult& r);

  Tracker* tracker_ = nullptr;
  WriterConfig config_;
  int pid_ = 0;
  int ppid_ = 0;                   // set in a forked child
  unsigned long long pid_ns_ = 0;  // own_pid_namespace(), for the temporary file's name
  uid_t start_euid_ = 0;
  unsigned next_sequence_ = 1;
  bool thread_started_ = false;
  bool locked_for_fork_ = false;  // only touched by the forking thread, under atfork
  pthread_mutex_t lock_ = PTHREAD_MUTEX_INITIALIZER;
  std::atomic<bool> failure_said_{false};
  Retention retention_;     // LEAKPROBE_KEEP, for interval snapshots
  PeakWatch peak_;          // LEAKPROBE_PEAK; touched by the writer thread only
  AgeHistory age_history_;  // earlier snapshots the age lines count survivors against
};

Writer g_writer;
AttachHooks g_attach;  // set before the writer thread starts, never changed after

struct WriteCtx {
  const char* trigger;
  timespec now;
  int64_t age_census_ms = -1;  // write_snapshot's, for the age history
};

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool Writer::write_content(int fd, unsigned sequence, void* p) {
  auto* ctx = static_cast<WriteCtx*>(p);
  SnapshotInfo info;
  info.pid = g_writer.pid_;
  info.ppid = g_writer.ppid_;
  info.pid_namespace = g_writer.pid_ns_;
  info.sequence = sequence;
  info.trigger = ctx->trigger;
  info.time_sec = ctx->now.tv_sec;
  info.time_usec = ctx->now.tv_nsec / 1000;
  info.foreign_malloc = foreign_malloc();
  info.memory = true;
  info.age_history = &g_writer.age_history_;
  info.age_census_ms = &ctx->age_census_ms;
  FdOut out(fd);
  return write_snapshot(out, *g_writer.tracker_, info);
}

// "snapshot": the published path, or the probe's own reason and its fix, so that a client
// learns why even when the program's stderr goes nowhere (`mosquitto -d`).
bool Writer::request_snapshot(char* reply, size_t size) {
  const PublishResult r = g_writer.snapshot(format::kTriggerRequest, -1);
  if (r.ok)
    snprintf(reply, size, "%s", r.path);
  else
    g_writer.describe_failure(r, reply, size);
  return r.ok;
}

// "status": the recording state, then "kept=<interval snapshots on disk>/<LEAKPROBE_KEEP>"
// ("kept=-" without LEAKPROBE_INTERVAL) and "signal=<number|off>" for `leakprobe list`.
bool Writer::status(char* reply, size_t size) {
  if (!recording_status(reply, size)) return false;
  size_t used = strlen(reply);
  const Retention& r = g_writer.retention_;
  if (r.keep())
    snprintf(reply + used, size - used, " %s%u/%u", format::kControlStatusKept, r.kept(), r.keep());
  else
    snprintf(reply + used, size - used, " %s-", format::kControlStatusKept);
  used = strlen(reply);
  const SignalTrigger& trigger = signal_trigger();
  if (trigger.served())
    snprintf(reply + used, size - used, " %s%d", format::kControlStatusSignal, trigger.signal());
  else
    snprintf(reply + used, size - used, " %soff", format::kControlStatusSignal);
  if (const char* word = g_attach.attach_word ? g_attach.attach_word() : nullptr) {
    used = strlen(reply);
    snprintf(reply + used, size - used, " %s%s", format::kControlStatusAttach, word);
  }
  return true;
}

// "peak": the newest peak snapshot. Served on the writer thread, like check_peak().
bool Writer::peak_request(char* reply, size_t size) {
  const PeakWatch& peak = g_writer.peak_;
  if (!peak.on()) {
    snprintf(reply, size, "no peak snapshots: the probe was started without LEAKPROBE_PEAK=1");
    return false;
  }
  if (!peak.newest()[0]) {
    snprintf(reply, size,
             "no peak snapshot yet: the live heap has not reached %llu bytes while recording",
             static_cast<unsigned long long>(PeakWatch::kFloorBytes));
    return false;
  }
  snprintf(reply, size, "%s", peak.newest());
  return true;
}

// A new peak: write it, then remove the peak snapshot it replaces (the probe's own file), so
// that the newest is always on disk and only it.
void Writer::check_peak() {
  const uint64_t live = live_heap_bytes(tracker_->stacks());
  if (!peak_.due(live)) return;
  const PublishResult r = snapshot(format::kTriggerPeak, -1);
  if (!r.ok) return;  // said once by say_failure
  PeakFile now, previous;
  memcpy(now.path, r.path, sizeof(now.path));
  now.dev = r.dev;
  now.ino = r.ino;
  peak_.published(now, live, &previous);
  // Only if it is still the file we published: one renamed away to keep it, or another
  // file put under its name, stays.
  if (previous.path[0]) remove_if_same_file(previous.path, previous.dev, previous.ino);
}

// One line: what failed, where, the system's reason, and what to do about it.
void Writer::describe_failure(const PublishResult& r, char* out, size_t size) const {
  if (!r.err) {
    snprintf(out, size, "%s", r.error);
    return;
  }
  int n = snprintf(out, size, "%s %s: %s", r.error, r.path, strerrordesc_np(r.err));
  if (n < 0 || static_cast<size_t>(n) >= size) return;
  const char* dir = config_.output_dir;
  const unsigned long uid = geteuid();
  if ((r.err == EACCES || r.err == EPERM) && geteuid() != start_euid_) {
    // Daemons started as root often drop to their own user (mosquitto does unless its
    // configuration says `user root`); a directory made at start is then root's 0700
    // (`leakprobe run` gives it to the user it expects, where it knows that user).
    snprintf(out + n, size - n,
             "; the program changed its user to uid %lu after start: make %s writable for "
             "uid %lu (leakprobe run --output-owner USER, or chown), or start the program as "
             "that user",
             uid, dir, uid);
  } else if (r.err == EACCES || r.err == EPERM) {
    snprintf(out + n, size - n, "; make %s writable for uid %lu", dir, uid);
  } else if (r.err == ENOENT) {
    snprintf(out + n, size - n, "; create %s (mode 0700) for uid %lu", dir, uid);
  } else if (r.err == ENOSPC || r.err == EDQUOT) {
    snprintf(out + n, size - n, "; free space in %s or set LEAKPROBE_OUTPUT_DIR elsewhere", dir);
  } else if (r.err == EROFS) {
    snprintf(out + n, size - n, "; %s is read-only: set LEAKPROBE_OUTPUT_DIR elsewhere", dir);
  }
}

void Writer::say_failure(const PublishResult& r) {
  if (failure_said_.exchange(true, std::memory_order_relaxed)) return;
  char why[PATH_MAX + 192];
  describe_failure(r, why, sizeof(why));
  log_line(why);
}

void* Writer::thread_main(void*) {
  t_in_probe = true;  // for life: nothing this thread allocates is the host's
  g_writer.loop();
  return nullptr;
}

void Writer::loop() {
  const int64_t interval = static_cast<int64_t>(config_.interval_ms);
  int64_t deadline = interval ? now_ms() + interval : 0;
  int64_t socket_paused_until = 0;
  ControlSocket& control = control_socket();
  SignalTrigger& trigger = signal_trigger();
  for (;;) {
    if (trigger.take_pending()) snapshot(format::kTriggerSignal, -1);
    pollfd fds[1] = {{control.fd(), POLLIN, 0}};
    const int64_t paused_ms = socket_paused_until - now_ms();
    nfds_t nfds = control.fd() >= 0 && paused_ms <= 0 ? 1 : 0;
    int64_t wait_ms = -1;  // forever
    if (interval) {
      wait_ms = deadline - now_ms();
      if (wait_ms < 0) wait_ms = 0;
    }
    if ((trigger.on() || g_attach.tick) && (wait_ms < 0 || wait_ms > kSignalTickMs))
      wait_ms = kSignalTickMs;
    const bool watch_peak = peak_.on() && tracker_->recording();
    if (watch_peak && (wait_ms < 0 || wait_ms > kPeakTickMs)) wait_ms = kPeakTickMs;
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
      // Nobody answers the socket from here on: close it, so a client is refused at once.
      // (The signal stays ours: giving it back now could race with the host's sigaction.)
      control.close_unserved();
      log_line("writer thread: ppoll failed; snapshots now only at exit");
      return;
    }
    if (n > 0 && nfds && fds[0].revents &&
        control.serve(fds[0].revents) == ControlSocket::Served::kRetryLater)
      socket_paused_until = now_ms() + kSocketPauseMs;
    if (g_attach.tick) g_attach.tick();
    if (watch_peak) check_peak();
    if (interval && now_ms() >= deadline) {
      // A dormant probe that never recorded has nothing to say: no empty files every tick.
      if (tracker_->ever_recorded()) {
        PublishResult r = snapshot(format::kTriggerInterval, -1);
        // The writer thread alone keeps this bookkeeping (and answers "status" from it).
        retention_.on_interval_published(r, config_.output_dir, pid_);
      }
      // Skip missed ticks rather than writing a burst after a long stall.
      int64_t now = now_ms();
      while (deadline <= now) deadline += interval;
    }
  }
}

// The control socket and the thread for the current process (at start and in a child).
bool Writer::start_thread() {
  if (config_.control_socket)
    control_socket().open(pid_, ControlRequests{request_snapshot, recording_switch, status,
                                                peak_request, trim_request, g_attach.detach});

  // The thread inherits the creating thread's mask: block everything around the create so
  // that no host signal is ever delivered to (and lost in) the writer.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  int rc = pthread_create(&th, &attr, thread_main, nullptr);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) {
    // Nothing would ever answer the socket or look at the signal's flag: close the socket, so
    // that `leakprobe snapshot` is refused at once instead of waiting for its timeout, and
    // stop offering the signal (its handler stays: a stray signal must not end the program).
    control_socket().close_unserved();
    signal_trigger().set_unserved();
    log_line("cannot start the writer thread: ", strerrordesc_np(rc),
             "; no snapshots on request, signal or interval, only the exit snapshot");
    return false;
  }
#ifdef __GLIBC__
  pthread_setname_np(th, "leakprobe");
#endif
  return true;
}

bool Writer::start(Tracker* t, const WriterConfig& config) {
  tracker_ = t;
  config_ = config;
  pid_ = getpid();
  pid_ns_ = own_pid_namespace();
  start_euid_ = geteuid();
  // The directory is created if missing (one level, 0700); a failure shows at the first
  // snapshot, with the path.
  mkdir(config_.output_dir, 0700);
  if (config_.signal) signal_trigger().install(config_.signal);
  if (config_.interval_ms) retention_.init(config_.keep);
  if (config_.peak) peak_.init(config_.peak_growth_pct);
  fd_reserve_fill();
  thread_started_ = start_thread();
  return thread_started_;
}

bool Writer::lock(int wait_ms, const char* trigger) {
  if (wait_ms < 0) return pthread_mutex_lock(&lock_) == 0;
  timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += wait_ms / 1000;
  until.tv_nsec += (wait_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec += 1;
    until.tv_nsec -= 1000000000L;
  }
  if (pthread_mutex_timedlock(&lock_, &until) == 0) return true;
  log_line("a snapshot in progress did not finish in time; skipping the ", trigger, " snapshot");
  return false;
}

PublishResult Writer::snapshot_locked(const char* trigger) {
  WriteCtx ctx{trigger, {}};
  clock_gettime(CLOCK_REALTIME, &ctx.now);
  // Not in a vfork child (see at_exit): its descriptor table is its own, but the reserve's
  // bookkeeping is the parent's.
  const bool own_process = getpid() == pid_;
  if (own_process) fd_reserve_release();
  PublishResult r =
      publish_snapshot(config_.output_dir, pid_, pid_ns_, next_sequence_, write_content, &ctx);
  if (own_process && trigger != format::kTriggerExit) fd_reserve_fill();
  if (r.ok) {
    next_sequence_ = r.sequence + 1;
    if (ctx.age_census_ms >= 0)
      age_history_.add(
          AgeCutoff{r.sequence, ctx.now.tv_sec, ctx.now.tv_nsec / 1000, ctx.age_census_ms});
  } else {
    say_failure(r);
  }
  return r;
}

PublishResult Writer::snapshot(const char* trigger, int wait_ms) {
  Guard g;
  PublishResult r;
  if (!tracker_) {
    r.error = "the probe is not running";
    return r;
  }
  if (!lock(wait_ms, trigger)) {
    r.error = "a snapshot in progress did not finish in time";
    return r;
  }
  r = snapshot_locked(trigger);
  pthread_mutex_unlock(&lock_);
  return r;
}

void Writer::at_exit() {
  if (!tracker_) return;
  Guard g;
  // Bounded: a process must never hang in exit because the writer is busy (or stuck on a
  // dead NFS server).
  if (!lock(10000, format::kTriggerExit)) return;
  if (config_.at_exit && tracker_->ever_recorded()) snapshot_locked(format::kTriggerExit);
  if (getpid() != pid_) {
    // A vfork child that called exit() instead of _exit(): it runs (and uses up) the
    // parent's atexit list in the parent's memory. The snapshot above is the parent's state,
    // under the parent's pid; the lock is the parent's too and must be given back, or the
    // parent's writer would wait for it for the rest of the parent's life.
    pthread_mutex_unlock(&lock_);
    return;
  }
  // Deliberately never released: a snapshot started by the writer thread after this point
  // could be cut short by the process ending and leave a temporary file behind.
}

void Writer::lock_for_fork() {
  locked_for_fork_ = false;
  if (!tracker_) return;
  timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 2;
  locked_for_fork_ = pthread_mutex_timedlock(&lock_, &until) == 0;
}

void Writer::unlock_after_fork_in_parent() {
  if (locked_for_fork_) pthread_mutex_unlock(&lock_);
  locked_for_fork_ = false;
}

void Writer::restart_in_child() {
  locked_for_fork_ = false;  // the mutex is re-initialised below
  if (!tracker_) return;
  // The parent's descriptors stay open in the parent; ours go. The lock may have been held
  // by the parent's writer thread, which does not exist here.
  control_socket().forget_in_child();
  pthread_mutex_init(&lock_, nullptr);
  ppid_ = pid_;
  pid_ = getpid();
  pid_ns_ = own_pid_namespace();  // a child of unshare(CLONE_NEWPID) lives in a new one
  next_sequence_ = 1;
  age_history_.reset();  // the parent's snapshots are not this process image's
  retention_.reset_in_child();
  peak_.reset();  // the parent's peak files are the parent's
  failure_said_.store(false);
  if (thread_started_) thread_started_ = start_thread();
}

}  // namespace

void writer_set_attach_hooks(const AttachHooks& hooks) { g_attach = hooks; }

bool writer_start(Tracker* t, const WriterConfig& config) { return g_writer.start(t, config); }
PublishResult writer_snapshot(const char* trigger, int wait_ms) {
  return g_writer.snapshot(trigger, wait_ms);
}
void writer_at_exit() { g_writer.at_exit(); }
void writer_lock_for_fork() { g_writer.lock_for_fork(); }
void writer_unlock_after_fork_in_parent() { g_writer.unlock_after_fork_in_parent(); }
void writer_restart_in_child() { g_writer.restart_in_child(); }

}  // namespace leakprobe
