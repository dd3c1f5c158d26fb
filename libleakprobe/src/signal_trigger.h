// The snapshot signal (LEAKPROBE_SIGNAL): the handler only raises a flag, which the writer
// thread polls. It owns nothing else: no descriptor, no thread, no file.
//
// The signal belongs to the host as soon as the host wants it. The handler is installed only
// if the signal is at its default disposition at start-up (an inherited SIG_IGN is the host's
// and must reach its exec'd children unchanged). The interposed sigaction()/signal() ask
// is_ours() first; if so, release() hands the signal over: the trigger goes off and one
// stderr line says so. (No delivery ever lands on the writer thread: it keeps every signal
// blocked for life.)
#pragma once

#include <atomic>
#include <csignal>

namespace leakprobe {

class SignalTrigger {
 public:
  // Installs the handler for `sig` (> 0) if the host has left it at SIG_DFL; otherwise (or
  // when the kernel refuses, e.g. under seccomp) says once why the trigger is off.
  void install(int sig);

  // Nobody will ever look at the flag (the writer thread could not start). The handler stays,
  // so that a signal sent by someone following the guide does no harm, but the probe no
  // longer offers it (served() is false).
  void set_unserved() { served_.store(false, std::memory_order_relaxed); }
  // On, and a writer looks at the flag: what the start-up line and `status` advertise.
  bool served() const { return on() && served_.load(std::memory_order_relaxed); }

  // True while our handler is installed for `sig` and the host has not claimed it.
  bool is_ours(int sig) const { return sig > 0 && sig == sig_ && on(); }
  bool on() const { return on_.load(std::memory_order_relaxed); }
  int signal() const { return sig_; }

  // The host installed its own disposition: the trigger goes off, one stderr line. A
  // request the handler flagged just before is still served.
  void release();

  // What the host would see without the probe: the disposition our handler replaced, if
  // `current` is our handler (else `current` unchanged).
  void hide_own_handler(struct sigaction* current) const;

  // Clears and returns the flag the handler set (the writer thread's poll).
  bool take_pending() { return pending_.exchange(false, std::memory_order_relaxed); }

 private:
  static void on_signal(int, siginfo_t*, void*);

  int sig_ = 0;
  std::atomic<bool> on_{false};
  std::atomic<bool> pending_{false};
  std::atomic<bool> served_{true};
  std::atomic<bool> release_said_{false};
  struct sigaction replaced_ {};  // what our handler replaced (SIG_DFL)
};

// The one instance. Constant-initialised: the interposed sigaction() may ask it before the
// probe's constructor has run.
SignalTrigger& signal_trigger();

}  // namespace leakprobe
