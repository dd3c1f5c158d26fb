#include "leakprobe/cli/ptrace_session.h"

#include <dirent.h>
#include <errno.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "leakprobe/cli/syscall_restart.h"

namespace leakprobe::cli {

namespace {

bool is_stop_signal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

std::string os_error(const char* what, pid_t tid) {
  return std::string(what) + " on thread " + std::to_string(tid) + ": " + std::strerror(errno);
}

}  // namespace

std::vector<pid_t> list_threads(pid_t pid) {
  std::vector<pid_t> out;
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
  if (!dir) return out;
  while (dirent* e = ::readdir(dir)) {
    const int tid = std::atoi(e->d_name);
    if (tid > 0) out.push_back(tid);
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

bool signal_pending_for(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status");
  std::string line;
  unsigned long long pending = 0, shared = 0, blocked = 0;
  bool any = false;
  while (std::getline(in, line)) {
    auto field = [&](const char* key, unsigned long long& v) {
      const size_t n = std::strlen(key);
      if (line.compare(0, n, key) == 0) {
        v = std::strtoull(line.c_str() + n, nullptr, 16);
        any = true;
      }
    };
    field("SigPnd:", pending);
    field("ShdPnd:", shared);
    field("SigBlk:", blocked);
  }
  // Unreadable: assume a signal may be pending, which only keeps an EINTR as the kernel left it.
  return !any || ((pending | shared) & ~blocked) != 0;
}

PtraceSession::PtraceSession(pid_t pid, std::chrono::milliseconds step_timeout)
    : pid_(pid), step_timeout_(step_timeout) {
  // Each stop of a tracee sends us SIGCHLD: kept pending (blocked; its default disposition
  // would discard it), wait_stop() sleeps until one comes instead of polling in fixed steps.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &chld, &old_mask_);
}

PtraceSession::~PtraceSession() {
  if (holding_) release();
  ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

Stop PtraceSession::wait_stop(pid_t tid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(tid, &status, __WALL | WNOHANG);
    if (r == tid) {
      if (WIFEXITED(status) || WIFSIGNALED(status)) return {StopKind::kGone, 0};
      if (WIFSTOPPED(status)) {
        const int sig = WSTOPSIG(status);
        const int event = status >> 16;
        if (event == PTRACE_EVENT_STOP)
          return {is_stop_signal(sig) ? StopKind::kGroupStop : StopKind::kInterrupt, sig};
        if (event == 0 && sig == (SIGTRAP | 0x80)) return {StopKind::kSyscall, sig};
        if (event == 0) return {StopKind::kSignal, sig};
        return {StopKind::kInterrupt, sig};  // no other event is asked for
      }
      continue;
    }
    if (r < 0 && errno != EINTR) return {errno == ECHILD ? StopKind::kGone : StopKind::kError, 0};
    if (std::chrono::steady_clock::now() >= deadline) return {StopKind::kTimeout, 0};
    // Not a blocking waitpid, which could not be bounded without a timer signal: a wait for
    // the SIGCHLD of the next stop, at most 5 ms (a SIGCHLD taken by an earlier round, or two
    // stops that sent one, only cost another round).
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        deadline - std::chrono::steady_clock::now());
    const long step = std::min<long>(static_cast<long>(left.count()), 5L * 1000 * 1000);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    struct timespec pause = {0, step > 0 ? step : 0};
    ::sigtimedwait(&chld, nullptr, &pause);
  }
}

std::string PtraceSession::hold(pid_t tid) {
  if (::ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
    if (errno == ESRCH) return {};  // exited between the listing and now
    return os_error("PTRACE_SEIZE", tid);
  }
  HeldThread t;
  t.tid = tid;
  threads_.push_back(t);
  holding_ = true;
  HeldThread& held = threads_.back();
  if (::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) {
    if (errno == ESRCH) {
      held.gone = true;
      return {};
    }
    return os_error("PTRACE_INTERRUPT", tid);
  }
  const Stop stop = wait_stop(tid, step_timeout_);
  switch (stop.kind) {
    case StopKind::kInterrupt:
      break;
    case StopKind::kSignal:
      // A signal got there first: the thread is held in its delivery-stop. It stays there, and
      // on release it is given that signal (and our interrupt is dropped with the tracer).
      held.stopped_with_signal = stop.signal;
      break;
    case StopKind::kGroupStop:
      return "pid " + std::to_string(pid_) + " is stopped (by " + ::strsignal(stop.signal) +
             "): continue it (kill -CONT " + std::to_string(pid_) + ") and try again";
    case StopKind::kGone:
      held.gone = true;
      return {};
    case StopKind::kTimeout:
      return "thread " + std::to_string(tid) + " did not stop within " +
             std::to_string(step_timeout_.count()) + " ms";
    case StopKind::kSyscall:  // no thread is seized with PTRACE_O_TRACESYSGOOD
    case StopKind::kError:
      return os_error("waitpid", tid);
  }
  if (::ptrace(PTRACE_GETREGS, tid, nullptr, &held.regs) != 0) {
    if (errno == ESRCH) {
      held.gone = true;
      return {};
    }
    return os_error("PTRACE_GETREGS", tid);
  }
  // Set the interrupted call to resume now, as release() would, in case we are killed before
  // release(): the kernel then lets the thread go from this stop, and a call our stop made
  // answer -EINTR (epoll_wait, a socket with a timeout) would return it to the program. `regs`
  // keeps the registers as found; release() decides again from them.
  if (!held.stopped_with_signal && !signal_pending_for(pid_, tid)) {
    user_regs_struct resume = held.regs;
    if (resume_interrupted_call(resume, true) &&
        ::ptrace(PTRACE_SETREGS, tid, nullptr, &resume) == 0)
      held.regs_replaced = true;
  }
  return {};
}

std::string PtraceSession::hold_all() {
  // Threads that run can start new ones until they are held: list again until a listing
  // brings nobody new. A held thread starts nobody, so this ends once all are held.
  for (int round = 0; round < 64; ++round) {
    bool added = false;
    for (pid_t tid : list_threads(pid_)) {
      bool known = false;
      for (const auto& t : threads_) known = known || t.tid == tid;
      if (known) continue;
      added = true;
      if (std::string error = hold(tid); !error.empty()) {
        release();
        return error;
      }
    }
    if (!added) {
      if (threads_.empty()) return "pid " + std::to_string(pid_) + " has no threads left";
      return {};
    }
  }
  release();
  return "pid " + std::to_string(pid_) + " kept starting new threads; try again";
}

std::string PtraceSession::release() {
  std::string first_error;
  auto note = [&](std::string e) {
    if (first_error.empty()) first_error = std::move(e);
  };
  for (auto& t : threads_) {
    if (t.gone) continue;
    // The signal that goes back with PTRACE_DETACH: the one the thread stopped with (the
    // kernel still has its siginfo). Signals taken from it during an injected call are queued
    // to it again first, with their siginfo where the kernel allows it (a sender's
    // si_code < 0), else by number: pending, they are delivered as it leaves its stop.
    const int deliver = t.stopped_with_signal;
    for (const siginfo_t& held : t.held_signals) {
      siginfo_t info = held;
      if (info.si_code < 0 &&
          ::syscall(SYS_rt_tgsigqueueinfo, pid_, t.tid, info.si_signo, &info) == 0)
        continue;
      ::syscall(SYS_tgkill, pid_, t.tid, info.si_signo);
    }
    if (t.left_in_call) {  // it puts itself back (remote_call.h): only let it go
      if (::ptrace(PTRACE_DETACH, t.tid, nullptr, reinterpret_cast<void*>(long{deliver})) != 0 &&
          errno != ESRCH)
        note(os_error("PTRACE_DETACH", t.tid));
      continue;
    }
    user_regs_struct regs = t.regs;
    bool set = t.regs_replaced;
    // With a signal to deliver, or one pending in the kernel (it arrived while the thread was
    // held, or was kept blocked during an injected call), the registers go back verbatim: the
    // kernel, leaving this stop, delivers it and applies the handler's SA_RESTART rule to the
    // interrupted call, exactly as without us (and restarts it itself if no handler takes
    // it). Without one, the call is set to resume now (and an epoll EINTR we caused is undone).
    if (!deliver && !signal_pending_for(pid_, t.tid)) set |= resume_interrupted_call(regs, true);
    if (set && ::ptrace(PTRACE_SETREGS, t.tid, nullptr, &regs) != 0 && errno != ESRCH)
      note(os_error("PTRACE_SETREGS", t.tid));
    if (::ptrace(PTRACE_DETACH, t.tid, nullptr, reinterpret_cast<void*>(long{deliver})) != 0 &&
        errno != ESRCH)
      note(os_error("PTRACE_DETACH", t.tid));
  }
  threads_.clear();
  holding_ = false;
  return first_error;
}

}  // namespace leakprobe::cli
