#include "signal_trigger.h"

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "libc_private.h"
#include "log.h"

namespace leakprobe {
namespace {
SignalTrigger g_trigger;
}  // namespace

SignalTrigger& signal_trigger() { return g_trigger; }

void SignalTrigger::on_signal(int, siginfo_t*, void*) {
  g_trigger.pending_.store(true, std::memory_order_relaxed);
}

void SignalTrigger::install(int sig) {
  // __sigaction, not sigaction: ours is interposed and would treat this as the host's call.
  struct sigaction cur {};
  char num[24];
  fmt_u64(num, static_cast<uint64_t>(sig));
  const bool asked = __sigaction(sig, nullptr, &cur) == 0;
  if (asked && !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL) {
    struct sigaction sa {};
    sa.sa_sigaction = on_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    replaced_ = cur;
    sig_ = sig;
    if (__sigaction(sig, &sa, nullptr) == 0) {
      on_.store(true);
      return;
    }
  }
  if (!asked || cur.sa_handler == SIG_DFL) {
    // A seccomp filter that denies rt_sigaction: the signal keeps its default action, which
    // for a real-time signal ends the program. Say so, so nobody sends it.
    log_line("cannot install a handler for signal ", num, ": ", strerrordesc_np(errno),
             "; the signal trigger is off, and this signal would end the program");
    return;
  }
  log_line("signal ", num,
           cur.sa_handler == SIG_IGN ? " is ignored by this program" : " is in use by this program",
           "; the signal trigger is off (`leakprobe snapshot PID` and LEAKPROBE_INTERVAL still "
           "work)");
}

void SignalTrigger::release() {
  if (!on_.exchange(false)) return;
  // Nothing to undo in the writer: it never accepts the signal (see writer.cpp).
  char num[24];
  fmt_u64(num, static_cast<uint64_t>(sig_));
  log_once(release_said_, "the program installed its own handler for signal ", num,
           "; the signal trigger is off (`leakprobe snapshot PID` and LEAKPROBE_INTERVAL still "
           "work)");
}

void SignalTrigger::hide_own_handler(struct sigaction* current) const {
  if (current && (current->sa_flags & SA_SIGINFO) && current->sa_sigaction == on_signal)
    *current = replaced_;
}

}  // namespace leakprobe
