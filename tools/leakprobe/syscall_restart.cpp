#include "leakprobe/cli/syscall_restart.h"

#include <errno.h>
#include <sys/syscall.h>

namespace leakprobe::cli {

namespace {
// The system calls that answer any stop with -EINTR rather than a restart code (signal(7),
// "Interruption of system calls and library functions by stop signals"), and are safe to run
// again from the start with the same arguments: a plain -EINTR means nothing was transferred
// yet (a partial read or send returns its count instead). A relative timeout starts over: the
// wait may last up to the length of the attach longer, never shorter. The socket calls are
// here for sockets with SO_RCVTIMEO/SO_SNDTIMEO; connect is not (run again, it would answer
// EALREADY).
bool eintr_on_stop(long nr) {
  switch (nr) {
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_rt_sigtimedwait:
    case SYS_semop:
    case SYS_semtimedop:
    case SYS_accept:
    case SYS_accept4:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_recvmmsg:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_read:
    case SYS_readv:
    case SYS_write:
    case SYS_writev:
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

user_regs_struct regs_after_sigreturn(const user_regs_struct& stopped, bool also_eintr) {
  user_regs_struct regs = stopped;
  if (!in_system_call(regs)) return regs;
  const long nr = static_cast<long>(regs.orig_rax);
  const long ret = static_cast<long>(regs.rax);
  const bool restart = ret == -kERestartSys || ret == -kERestartNoIntr || ret == -kERestartNoHand ||
                       ret == -kERestartRestartBlock ||
                       (also_eintr && ret == -EINTR && eintr_on_stop(nr));
  if (!restart) return regs;
  if (nr == SYS_restart_syscall) {
    regs.rax = static_cast<unsigned long long>(-EINTR);
    return regs;
  }
  regs.rax = regs.orig_rax;
  regs.rip -= 2;
  return regs;
}

void disarm_restart(user_regs_struct& regs) {
  regs.orig_rax = static_cast<unsigned long long>(-1L);
}

}  // namespace leakprobe::cli
