// The interposed signal-disposition API: a host that installs its own handler for the
// probe's snapshot signal gets the signal (the probe's trigger steps aside, see
// SignalTrigger::release), and a host that asks sees what it would see without the probe.
// Every other signal is forwarded untouched. sigset()/sigvec() are not interposed: a host
// using them for our signal takes it from the kernel's point of view, only the writer
// thread might then still receive a delivery (documented in docs/settings.md).
#include <atomic>
#include <cerrno>
#include <csignal>

#include "guard.h"
#include "interposer.h"
#include "libc_private.h"
#include "signal_trigger.h"

namespace {

using sighandler_fn = void (*)(int);

// signal() and sysv_signal() have no exported internal alias to call for the signals we
// do not touch; resolved at load (below) or on first use if something calls them before
// our constructor ran.
using signal_fn = sighandler_fn (*)(int, sighandler_fn);
LP_NEXT_SLOT(signal, signal_fn);
LP_NEXT_SLOT(sysv_signal, signal_fn);

// Resolved at load time too: hosts re-arm SysV-style handlers by calling signal() from
// inside the handler, where a first dlsym() (locks, possibly malloc) could deadlock.
__attribute__((constructor)) void resolve_signal_functions() {
  LP_NEXT(signal);
  LP_NEXT(sysv_signal);
}

// signal() on our signal, with the semantics glibc gives it (BSD: restart, the signal
// blocked in its handler; System V: one-shot, not blocked).
sighandler_fn own_signal(int sig, sighandler_fn handler, bool bsd) {
  if (handler == SIG_ERR) {
    errno = EINVAL;
    return SIG_ERR;
  }
  struct sigaction act {
  }, old{};
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  if (bsd) {
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART;
  } else {
    act.sa_flags = SA_RESETHAND | SA_NODEFER;
  }
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

}  // namespace

LP_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  leakprobe::SignalTrigger& trigger = leakprobe::signal_trigger();
  if (!trigger.is_ours(sig)) return __sigaction(sig, act, old);
  // Setting SIG_DFL where the host already sees SIG_DFL (the probe's handler is hidden
  // from it) changes nothing for the host: programs that reset every signal before an exec
  // (git's children) or at daemon start keep the trigger. Anything else is the host's.
  if (act && !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL) {
    int rc = __sigaction(sig, nullptr, old);
    if (rc == 0) trigger.hide_own_handler(old);
    return rc;
  }
  if (act) trigger.release();
  int rc = __sigaction(sig, act, old);
  if (rc == 0) trigger.hide_own_handler(old);
  return rc;
}

LP_EXPORT sighandler_fn signal(int sig, sighandler_fn handler) {
  if (leakprobe::signal_trigger().is_ours(sig)) return own_signal(sig, handler, true);
  auto next = LP_NEXT(signal);
  if (!next) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  return next(sig, handler);
}

LP_EXPORT sighandler_fn bsd_signal(int sig, sighandler_fn handler) { return signal(sig, handler); }

LP_EXPORT sighandler_fn sysv_signal(int sig, sighandler_fn handler) {
  if (leakprobe::signal_trigger().is_ours(sig)) return own_signal(sig, handler, false);
  auto next = LP_NEXT(sysv_signal);
  if (!next) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  return next(sig, handler);
}
