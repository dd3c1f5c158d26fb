#include "leakprobe/cli/syscall_restart.h"

#include <errno.h>
#include <sys/syscall.h>

namespace leakprobe::cli {

namespace {
// The system calls that answer any stop with -EINTR rather than a restart code, and are safe
// to run again from the start with the same arguments (a relative timeout starts over: the
// wait may last up to the length of the attach longer, never shorter).
bool eintr_on_stop(long nr) {
  switch (nr) {
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
      return true;
    default:
      return false;
  }
}
}  // namespace

bool in_system_call(const user_regs_struct& regs) { return static_cast<long>(regs.orig_rax) >= 0; }

bool resume_interrupted_call(user_regs_struct& regs, bool also_eintr) {
  if (!in_system_call(regs)) return false;
  const long nr = static_cast<long>(regs.orig_rax);
  const long ret = static_cast<long>(regs.rax);
  if (ret == -kERestartSys || ret == -kERestartNoIntr || ret == -kERestartNoHand ||
      (also_eintr && ret == -EINTR && eintr_on_stop(nr))) {
    regs.rax = regs.orig_rax;
  } else if (ret == -kERestartRestartBlock) {
    regs.rax = SYS_restart_syscall;
  } else {
    return false;
  }
  regs.rip -= 2;  // `syscall` is 0f 05
  regs.orig_rax = static_cast<unsigned long long>(-1L);
  return true;
}

void disarm_restart(user_regs_struct& regs) {
  regs.orig_rax = static_cast<unsigned long long>(-1L);
}

}  // namespace leakprobe::cli
