// What a thread that `leakprobe attach` stopped in the middle of a system call must find when it
// runs again: the same call, resumed, as if nothing had happened (CRIU compel's rule). Pure
// functions over a register set, so every case is unit-tested without a process.
#pragma once

#include <sys/user.h>

namespace leakprobe::cli {

// Kernel-internal return codes a system call leaves in rax when a stop (a signal, or our
// PTRACE_INTERRUPT) cut it short; user space never sees them (include/linux/errno.h).
constexpr long kERestartSys = 512;
constexpr long kERestartNoIntr = 513;
constexpr long kERestartNoHand = 514;
constexpr long kERestartRestartBlock = 516;

// True when `regs` were taken in a stop that interrupted a system call (orig_rax >= 0).
bool in_system_call(const user_regs_struct& regs);

// Rewrites `regs` (saved at the stop) so that, resumed without a signal, the interrupted call
// runs again: rip back over the 2-byte `syscall` instruction, rax = the call's number again,
// or __NR_restart_syscall for -ERESTART_RESTARTBLOCK (nanosleep, a futex wait with a timeout:
// the kernel kept the time left in the thread's restart block). orig_rax becomes -1 so the
// kernel does not restart it a second time. `also_eintr`: epoll_wait, sigtimedwait, semop and
// socket calls with a timeout return -EINTR, not a restart code, whenever their thread is
// stopped, even by a tracer (signal(7), "Interruption of system calls ... by stop signals");
// the caller passes true only when no signal is pending for the thread, so the EINTR can only
// be ours. Returns whether anything changed.
bool resume_interrupted_call(user_regs_struct& regs, bool also_eintr);

// The registers a thread must find after an rt_sigreturn that puts it back where it was stopped
// (remote_call.h's frame for a tracer that died): the same rule as resume_interrupted_call, but
// -ERESTART_RESTARTBLOCK and a call already restarted through restart_syscall cannot go through
// restart_syscall (rt_sigreturn empties the restart block: it would answer -EINTR), so the
// original call is issued again with its original arguments: a relative timeout starts over
// (the wait lasts longer, never shorter), and a restart_syscall found in orig_rax, whose
// arguments are gone, is left to answer -EINTR (attach_safety.h ranks such a thread last).
// orig_rax is left as found (rt_sigreturn sets it to -1).
user_regs_struct regs_after_sigreturn(const user_regs_struct& stopped, bool also_eintr);

// Prepares `regs` for a function call injected on the thread: orig_rax = -1, so that the
// kernel's restart logic, which looks at orig_rax and rax when the thread resumes, does not
// rewind into the injected call.
void disarm_restart(user_regs_struct& regs);

}  // namespace leakprobe::cli
