#include "leakprobe/cli/attach_safety.h"

#include <errno.h>
#include <sys/syscall.h>

#include "leakprobe/cli/syscall_restart.h"

namespace leakprobe::cli {

namespace {

// System calls that only wait, and that neither malloc (any arena or allocator lock), nor
// libc's dl*, pthread_create or fork functions ever make. `read` and `futex` are not here:
// the loader reads objects, and a lock wait is a futex.
bool pure_wait(const user_regs_struct& regs) {
  if (!in_system_call(regs)) return false;
  switch (static_cast<long>(regs.orig_rax)) {
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_poll:
    case SYS_ppoll:
    case SYS_select:
    case SYS_pselect6:
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
    case SYS_accept:
    case SYS_accept4:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_recvmmsg:
    case SYS_wait4:
    case SYS_waitid:
    case SYS_pause:
    case SYS_rt_sigsuspend:
    case SYS_rt_sigtimedwait:
      return true;
    default:
      return false;
  }
}

const AddressRange* inside(uint64_t address, const std::vector<AddressRange>& unsafe, bool on_stack,
                           bool waiting) {
  for (const auto& r : unsafe) {
    if (!r.contains(address)) continue;
    if (on_stack && r.rip_only) continue;
    if (on_stack && waiting && !r.held_across_waits) continue;
    return &r;
  }
  return nullptr;
}

int rank(const ThreadView& t) {
  if (!in_system_call(t.regs)) return 2;
  // Already restarted through restart_syscall (its arguments are gone): if the attach were
  // killed during the call, the return frame could only let it answer -EINTR
  // (regs_after_sigreturn). Last, after threads running their own code.
  if (static_cast<long>(t.regs.orig_rax) == SYS_restart_syscall) return 3;
  const long ret = static_cast<long>(t.regs.rax);
  if (ret == -kERestartSys || ret == -kERestartNoIntr || ret == -kERestartNoHand || ret == -EINTR)
    return 0;
  // -ERESTART_RESTARTBLOCK keeps the time left in the thread's restart block, which a system
  // call interrupted inside the injected call could overwrite: only if nothing better exists.
  return 1;
}

}  // namespace

SafetyVerdict judge_threads(const std::vector<ThreadView>& threads,
                            const std::vector<AddressRange>& unsafe) {
  SafetyVerdict v;
  for (const auto& t : threads) {
    const bool waiting = pure_wait(t.regs);
    if (const AddressRange* r = inside(t.regs.rip, unsafe, false, waiting)) {
      v.why = "thread " + std::to_string(t.tid) + " is inside " + r->what;
      return v;
    }
    for (uint64_t w : t.stack_words) {
      if (const AddressRange* r = inside(w, unsafe, true, waiting)) {
        v.why = "thread " + std::to_string(t.tid) + " is in a call from " + r->what;
        return v;
      }
    }
  }
  int best = -1;
  for (size_t i = 0; i < threads.size(); ++i) {
    const auto& t = threads[i];
    if (t.in_signal_stop || t.stack_room < kExecutorStackRoom) continue;
    if (best < 0 || rank(t) < rank(threads[best])) best = static_cast<int>(i);
  }
  if (best < 0) {
    v.why = "no thread has " + std::to_string(kExecutorStackRoom / 1024) +
            " KiB of stack free to run the loader on";
    return v;
  }
  v.safe = true;
  v.executor = best;
  return v;
}

}  // namespace leakprobe::cli
