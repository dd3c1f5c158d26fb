// Every thread of a process held still by ptrace, and let go again exactly as found.
// PTRACE_SEIZE + PTRACE_INTERRUPT over /proc/PID/task until no new thread appears (CRIU's way):
// no signal is sent to the process, so nothing it can observe. Every wait is bounded. Signals
// that arrive while a thread is held are kept and handed back when it is let go, and a system
// call a thread was stopped in resumes (syscall_restart.h). Only the thread that runs injected
// calls (remote_call.h) ever moves while the others are held.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <chrono>
#include <string>
#include <vector>

namespace leakprobe::cli {

struct HeldThread {
  pid_t tid = 0;
  bool gone = false;           // exited while held
  user_regs_struct regs{};     // as found at the stop (never changed here)
  bool regs_replaced = false;  // someone SETREGS'd it: put `regs` back on release
  // A signal-delivery-stop found instead of our interrupt: the signal is handed back on
  // release, untouched (PTRACE_DETACH's data; the kernel still has its siginfo).
  int stopped_with_signal = 0;
  // Signals taken from the thread while it ran an injected call: handed back on release.
  // (remote_call.h blocks every signal in the thread during its calls, so they stay pending in
  // the kernel instead; this is for a thread whose mask could not be set.)
  std::vector<siginfo_t> held_signals;
  // Left running inside an injected call that did not return in time (remote_call.h): it
  // returns through a frame that puts it back by itself, so release() only lets it go.
  bool left_in_call = false;
};

// How a wait on one thread ended.
// kSyscall: a system call entry or exit stop (resumed with PTRACE_SYSCALL, option
// PTRACE_O_TRACESYSGOOD set on that thread).
enum class StopKind { kInterrupt, kGroupStop, kSignal, kSyscall, kGone, kTimeout, kError };
struct Stop {
  StopKind kind = StopKind::kError;
  int signal = 0;
};

class PtraceSession {
 public:
  explicit PtraceSession(pid_t pid, std::chrono::milliseconds step_timeout);
  ~PtraceSession();  // releases whatever is still held
  PtraceSession(const PtraceSession&) = delete;
  PtraceSession& operator=(const PtraceSession&) = delete;

  // Seizes and stops every thread. Empty on success, else one line; on failure everything
  // already held has been released.
  std::string hold_all();
  // Lets every thread go: registers put back (with a stopped system call set to resume),
  // signals handed back. Empty on success, else one line (still best effort for every thread).
  std::string release();

  pid_t pid() const { return pid_; }
  std::vector<HeldThread>& threads() { return threads_; }
  std::chrono::milliseconds step_timeout() const { return step_timeout_; }
  // Waits for the next stop of one held thread that was resumed, up to `timeout`.
  Stop wait_stop(pid_t tid, std::chrono::milliseconds timeout);

 private:
  std::string hold(pid_t tid);
  pid_t pid_;
  std::chrono::milliseconds step_timeout_;
  std::vector<HeldThread> threads_;
  bool holding_ = false;
  sigset_t old_mask_{};
};

// The thread ids in /proc/PID/task.
std::vector<pid_t> list_threads(pid_t pid);

// Signals this thread may be given and has not taken yet: pending (its own or the process's)
// and not blocked, from /proc/PID/task/TID/status. A -EINTR its stop caused is only ours to
// undo when this is false.
bool signal_pending_for(pid_t pid, pid_t tid);

}  // namespace leakprobe::cli
