#include "leakprobe/cli/remote_call.h"

#include <elf.h>
#include <errno.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "leakprobe/cli/sigframe.h"
#include "leakprobe/cli/syscall_restart.h"

namespace leakprobe::cli {

namespace {

constexpr uint64_t kRedZone = 128;  // the System V x86_64 ABI's, below rsp, the callee's own
// Arguments and the frames (an XSAVE image is up to ~11 KiB with AMX); attach_safety.h wants
// 128 KiB of stack left on the executor.
constexpr size_t kMaxPushed = 64 * 1024;

bool read_memory(pid_t pid, uint64_t address, void* out, size_t size) {
  iovec local{out, size};
  iovec remote{reinterpret_cast<void*>(address), size};
  return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
}

bool write_memory(pid_t pid, uint64_t address, const void* bytes, size_t size) {
  iovec local{const_cast<void*>(bytes), size};
  iovec remote{reinterpret_cast<void*>(address), size};
  return ::process_vm_writev(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
}

// For tests only: LEAKPROBE_ATTACH_TEST_PAUSE=POINT makes the CLI say "test pause at POINT"
// on stderr when it gets there and wait 20 s, so a test can kill it at that very point.
void test_pause(const std::string& point) {
  const char* want = std::getenv("LEAKPROBE_ATTACH_TEST_PAUSE");
  if (!want || point != want) return;
  std::fprintf(stderr, "leakprobe attach: test pause at %s\n", point.c_str());
  std::fflush(stderr);
  std::this_thread::sleep_for(std::chrono::seconds(20));
}

// A thread with a CET user shadow stack: a return to an address no call pushed faults.
bool shadow_stack_enabled(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("x86_Thread_features:", 0) == 0) return line.find("shstk") != std::string::npos;
  }
  return false;
}

bool poke_bytes(pid_t tid, uint64_t at, const unsigned char* bytes, size_t size) {
  for (size_t done = 0; done < size; done += 8) {
    errno = 0;
    long word = ::ptrace(PTRACE_PEEKDATA, tid, reinterpret_cast<void*>(at + done), nullptr);
    if (errno != 0) return false;
    std::memcpy(&word, bytes + done, size - done < 8 ? size - done : 8);
    if (::ptrace(PTRACE_POKEDATA, tid, reinterpret_cast<void*>(at + done),
                 reinterpret_cast<void*>(word)) != 0)
      return false;
  }
  return true;
}

}  // namespace

RemoteCaller::RemoteCaller(PtraceSession& session, HeldThread& thread, uint64_t trampoline_site)
    : session_(session), thread_(thread), trampoline_(trampoline_site) {
  if (shadow_stack_enabled(session_.pid(), thread_.tid)) {
    error_ = "thread " + std::to_string(thread_.tid) +
             " has a CET shadow stack, which attach does not support";
    return;
  }
  if (trampoline_ == 0) {
    error_ = "found no unused bytes in the C library's or the loader's code for the return path";
    return;
  }
  if (::ptrace(PTRACE_GETSIGMASK, thread_.tid, reinterpret_cast<void*>(sizeof(sigmask_)),
               &sigmask_) != 0) {
    error_ = std::string("cannot read the signal mask of thread ") + std::to_string(thread_.tid) +
             ": " + std::strerror(errno);
    return;
  }
  if (::ptrace(PTRACE_SETOPTIONS, thread_.tid, nullptr,
               reinterpret_cast<void*>(long{PTRACE_O_TRACESYSGOOD})) != 0) {
    error_ = std::string("cannot set ptrace options on thread ") + std::to_string(thread_.tid) +
             ": " + std::strerror(errno);
    return;
  }
  // Extended state first: the callee is free to use every vector register.
  xstate_.resize(64 * 1024);
  iovec iov{xstate_.data(), xstate_.size()};
  if (::ptrace(PTRACE_GETREGSET, thread_.tid, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) == 0) {
    xstate_.resize(iov.iov_len);
  } else {
    xstate_.resize(sizeof(user_fpregs_struct));
    xstate_is_fpregs_ = true;
    if (::ptrace(PTRACE_GETFPREGS, thread_.tid, nullptr, xstate_.data()) != 0) {
      error_ = std::string("cannot read the floating-point registers of thread ") +
               std::to_string(thread_.tid) + ": " + std::strerror(errno);
      return;
    }
  }
  stack_top_ = (thread_.regs.rsp - kRedZone) & ~uint64_t{15};
  // The trampoline, unless an earlier attach left it there already. Written with
  // PTRACE_POKEDATA, which may write read-only code: the page becomes this process's own copy.
  unsigned char there[sizeof(kReturnTrampoline)] = {};
  if (!read_memory(session_.pid(), trampoline_, there, sizeof(there)) ||
      std::memcmp(there, kReturnTrampoline, sizeof(there)) != 0) {
    if (!poke_bytes(thread_.tid, trampoline_, kReturnTrampoline, sizeof(kReturnTrampoline)))
      error_ = std::string("cannot write the return path into pid ") +
               std::to_string(session_.pid()) + ": " + std::strerror(errno);
  }
}

RemoteCaller::~RemoteCaller() {
  if (!restored_) restore();
}

uint64_t RemoteCaller::push(const void* bytes, size_t size) {
  if (!error_.empty()) return 0;
  return place((stack_top_ - size) & ~uint64_t{15}, bytes, size);
}

uint64_t RemoteCaller::place(uint64_t at, const void* bytes, size_t size) {
  if (!error_.empty()) return 0;
  const uint64_t original_top = (thread_.regs.rsp - kRedZone) & ~uint64_t{15};
  if (at + size > stack_top_ || original_top - at > kMaxPushed) {
    error_ = "the arguments do not fit on the thread's stack";
    return 0;
  }
  // Keep what was there, once per byte, so restore() leaves the stack as it was found.
  const uint64_t low = saved_stack_.empty() ? original_top : saved_low_;
  if (at < low) {
    std::vector<unsigned char> more(low - at);
    if (!read_memory(session_.pid(), at, more.data(), more.size())) {
      error_ = "cannot read the stack of thread " + std::to_string(thread_.tid) + ": " +
               std::strerror(errno);
      return 0;
    }
    more.insert(more.end(), saved_stack_.begin(), saved_stack_.end());
    saved_stack_ = std::move(more);
    saved_low_ = at;
  }
  touched_ = true;
  if (!write_memory(session_.pid(), at, bytes, size)) {
    error_ = "cannot write to the stack of thread " + std::to_string(thread_.tid) + ": " +
             std::strerror(errno);
    return 0;
  }
  stack_top_ = at;
  return at;
}

RemoteCaller::Result RemoteCaller::call(uint64_t address, const std::vector<uint64_t>& args,
                                        std::chrono::milliseconds timeout) {
  Result result;
  if (!error_.empty()) {
    result.error = error_;
    return result;
  }
  if (args.size() > 6 || address == 0) {
    result.error = "bad remote call";
    return result;
  }
  ++calls_;
  // The frame the thread returns through: its state as it must resume without us.
  const user_regs_struct resume =
      regs_after_sigreturn(thread_.regs, !signal_pending_for(session_.pid(), thread_.tid));
  const XsaveLayout layout = xstate_is_fpregs_ ? XsaveLayout{} : xsave_layout(xstate_);
  const SigFrame frame = build_sigframe(stack_top_, resume, sigmask_, xstate_, layout, trampoline_);
  if (place(frame.start, frame.bytes.data(), frame.bytes.size()) == 0) {
    result.error = error_;
    return result;
  }
  user_regs_struct regs = thread_.regs;
  const uint64_t* a = args.data();
  const size_t n = args.size();
  regs.rdi = n > 0 ? a[0] : 0;
  regs.rsi = n > 1 ? a[1] : 0;
  regs.rdx = n > 2 ? a[2] : 0;
  regs.rcx = n > 3 ? a[3] : 0;
  regs.r8 = n > 4 ? a[4] : 0;
  regs.r9 = n > 5 ? a[5] : 0;
  regs.rax = 0;  // no vector arguments, for a variadic callee
  regs.rip = address;
  regs.rsp = frame.start;
  regs.eflags &= ~((1ULL << 10) | (1ULL << 8));  // DF clear (the ABI), TF clear
  disarm_restart(regs);
  // The call is entered through an rt_sigreturn too, on a second frame below the first that
  // holds the call's registers and a mask blocking every signal: registers and mask change in
  // one step, so whenever we are killed the thread either has not moved or runs the call with
  // signals held back (pending, none delivered into dlopen, none lost) and returns through the
  // first frame. The callee's stack then grows over this frame, which is consumed.
  const SigFrame entry = build_sigframe(stack_top_, regs, ~uint64_t{0}, xstate_, layout, 0);
  if (place(entry.start, entry.bytes.data(), entry.bytes.size()) == 0) {
    result.error = error_;
    return result;
  }
  stack_top_ = frame.start;  // the entry frame is the callee's stack from now on
  user_regs_struct enter = thread_.regs;
  enter.rip = trampoline_ + sizeof(kReturnTrampoline) - 2;  // its `syscall`
  enter.rax = SYS_rt_sigreturn;
  enter.rsp = entry.start + 8;
  // orig_rax -1: no restart rewinds into it, and stopped at our rt_sigreturn's entry (the
  // previous call's), that rt_sigreturn is skipped.
  disarm_restart(enter);
  if (::ptrace(PTRACE_SETREGS, thread_.tid, nullptr, &enter) != 0) {
    result.error = std::string("cannot set the registers: ") + std::strerror(errno);
    return result;
  }
  thread_.regs_replaced = true;
  masked_ = true;  // as soon as it runs
  test_pause("entering-" + std::to_string(calls_));
  parked_ = false;
  at_interrupt_ = false;
  if (::ptrace(PTRACE_SYSCALL, thread_.tid, nullptr, nullptr) != 0) {
    result.error = std::string("cannot resume thread ") + std::to_string(thread_.tid) + ": " +
                   std::strerror(errno);
    return result;
  }
  test_pause("in-call-" + std::to_string(calls_));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const Stop stop =
        session_.wait_stop(thread_.tid, left.count() > 0 ? left : std::chrono::milliseconds(0));
    if (stop.kind == StopKind::kGone) {
      thread_.gone = true;
      result.error = "the process exited during the attach";
      return result;
    }
    if (stop.kind == StopKind::kTimeout || stop.kind == StopKind::kError) {
      // Left to finish the call (see call() in remote_call.h): it is stopped once more only to
      // be detached, and restore() and the session's release() leave its registers, mask and
      // stack (the return frame) as they are.
      left_running_ = true;
      thread_.left_in_call = true;
      const std::string left = "the call did not return within " + std::to_string(timeout.count()) +
                               " ms; thread " + std::to_string(thread_.tid) +
                               " was left to finish it, and puts itself back when it does";
      ::ptrace(PTRACE_INTERRUPT, thread_.tid, nullptr, nullptr);
      // Any stop holds it again: our interrupt, a system call stop, or a signal's
      // delivery-stop (that signal is kept and handed back on release).
      const Stop again = session_.wait_stop(thread_.tid, session_.step_timeout());
      if (again.kind == StopKind::kSignal) {
        siginfo_t info{};
        if (::ptrace(PTRACE_GETSIGINFO, thread_.tid, nullptr, &info) == 0)
          thread_.held_signals.push_back(info);
      } else if (again.kind == StopKind::kInterrupt) {
        at_interrupt_ = true;
      } else if (again.kind == StopKind::kGone) {
        thread_.gone = true;
      } else if (again.kind == StopKind::kTimeout || again.kind == StopKind::kError) {
        // Still running: the kernel lets it go when this tracer exits.
        result.error = left;
        return result;
      }
      result.error = left;
      return result;
    }
    if (stop.kind == StopKind::kSyscall) {
      user_regs_struct now{};
      // The return frame's rt_sigreturn (not the entry frame's: rsp tells them apart).
      if (::ptrace(PTRACE_GETREGS, thread_.tid, nullptr, &now) == 0 &&
          static_cast<long>(now.orig_rax) == SYS_rt_sigreturn &&
          now.rip == trampoline_ + sizeof(kReturnTrampoline) && now.rsp == frame.start + 8) {
        parked_ = true;
        // The trampoline stored the result in the return address slot.
        if (!read_memory(session_.pid(), frame.start, &result.value, sizeof(result.value))) {
          result.error = "cannot read the call's result from the stack";
          return result;
        }
        result.ok = true;
        test_pause("after-call-" + std::to_string(calls_));
        return result;
      }
      // One of the callee's own system calls: carry on.
    } else if (stop.kind == StopKind::kSignal) {
      user_regs_struct now{};
      ::ptrace(PTRACE_GETREGS, thread_.tid, nullptr, &now);
      siginfo_t info{};
      ::ptrace(PTRACE_GETSIGINFO, thread_.tid, nullptr, &info);
      if (stop.signal == SIGSEGV || stop.signal == SIGBUS || stop.signal == SIGILL ||
          stop.signal == SIGFPE || stop.signal == SIGSYS || stop.signal == SIGTRAP) {
        result.error = std::string("the call faulted (") + ::strsignal(stop.signal) + " at 0x" +
                       [&] {
                         char b[32];
                         std::snprintf(b, sizeof(b), "%llx", now.rip);
                         return std::string(b);
                       }() +
                       (stop.signal == SIGSYS ? ", perhaps a seccomp filter" : "") + ")";
        return result;  // held in that delivery-stop; restore() undoes the call
      }
      // Someone else's signal (the mask could not be set): kept, handed back on release, not
      // delivered into the middle of dlopen.
      thread_.held_signals.push_back(info);
    }
    // An interrupt or group stop, or a system call stop: carry on.
    if (::ptrace(PTRACE_SYSCALL, thread_.tid, nullptr, nullptr) != 0) {
      result.error = std::string("cannot resume thread ") + std::to_string(thread_.tid) + ": " +
                     std::strerror(errno);
      return result;
    }
  }
}

std::string RemoteCaller::read_string(uint64_t address, size_t max) const {
  std::string out;
  char buf[256];
  while (out.size() < max) {
    if (!read_memory(session_.pid(), address + out.size(), buf, sizeof(buf))) break;
    const size_t len = ::strnlen(buf, sizeof(buf));
    out.append(buf, len);
    if (len < sizeof(buf)) break;
  }
  if (out.size() > max) out.resize(max);
  return out;
}

std::string RemoteCaller::restore() {
  if (restored_) return {};
  restored_ = true;
  if (thread_.gone || left_running_) return {};
  std::string error;
  auto note = [&](std::string e) {
    if (error.empty()) error = std::move(e);
  };
  const std::string who = " of thread " + std::to_string(thread_.tid);
  // Each step leaves a thread that resumes rightly if we are killed right after it: parked at
  // our rt_sigreturn, the frame still restores everything the steps have not yet; elsewhere,
  // the callee still returns through it.
  if (masked_ && ::ptrace(PTRACE_SETSIGMASK, thread_.tid, reinterpret_cast<void*>(sizeof(sigmask_)),
                          &sigmask_) != 0)
    note("cannot put the signal mask" + who + " back");
  auto put_xstate = [&] {
    if (xstate_.empty()) return;
    int rc;
    if (xstate_is_fpregs_) {
      rc = static_cast<int>(::ptrace(PTRACE_SETFPREGS, thread_.tid, nullptr, xstate_.data()));
    } else {
      iovec iov{xstate_.data(), xstate_.size()};
      rc = static_cast<int>(
          ::ptrace(PTRACE_SETREGSET, thread_.tid, reinterpret_cast<void*>(NT_X86_XSTATE), &iov));
    }
    if (rc != 0) note("cannot put the floating-point registers" + who + " back");
  };
  // The registers as they must resume, orig_rax -1 (a pending rt_sigreturn is skipped); the
  // session's release() sets them once more from thread_.regs, which is never changed.
  user_regs_struct resume = thread_.regs;
  resume_interrupted_call(resume, !signal_pending_for(session_.pid(), thread_.tid));
  disarm_restart(resume);
  const bool set_regs = thread_.regs_replaced;
  // Parked, the frame holds the extended state until the registers change; in the callee, the
  // original code (at a system call) cares less for vector registers than the callee does.
  if (parked_) put_xstate();
  if (set_regs && ::ptrace(PTRACE_SETREGS, thread_.tid, nullptr, &resume) != 0)
    note("cannot put the registers" + who + " back");
  if (!parked_) put_xstate();
  test_pause("restoring");
  // The thread no longer needs the frame: the stack as it was found.
  if (touched_ && !saved_stack_.empty() &&
      !write_memory(session_.pid(), saved_low_, saved_stack_.data(), saved_stack_.size()))
    note("cannot put the stack" + who + " back");
  // Back to an interrupt stop, as found, for release(): from a system call stop or a fault's
  // delivery-stop (its signal dropped), the thread leaves the kernel only through that stop.
  if (!at_interrupt_ && set_regs) {
    if (::ptrace(PTRACE_INTERRUPT, thread_.tid, nullptr, nullptr) != 0 ||
        ::ptrace(PTRACE_CONT, thread_.tid, nullptr, nullptr) != 0) {
      if (errno == ESRCH) {
        thread_.gone = true;
        return error;
      }
      note("cannot stop thread " + std::to_string(thread_.tid) + " again");
      return error;
    }
    for (int i = 0; i < 64; ++i) {
      const Stop stop = session_.wait_stop(thread_.tid, session_.step_timeout());
      if (stop.kind == StopKind::kInterrupt) {
        at_interrupt_ = true;
        break;
      }
      if (stop.kind == StopKind::kGone) {
        thread_.gone = true;
        break;
      }
      if (stop.kind == StopKind::kSignal) {
        // A signal got there first (one that could not be blocked): handed back on release.
        thread_.stopped_with_signal = stop.signal;
        break;
      }
      if (stop.kind == StopKind::kTimeout || stop.kind == StopKind::kError) {
        note("thread " + std::to_string(thread_.tid) + " did not stop again");
        break;
      }
      ::ptrace(PTRACE_CONT, thread_.tid, nullptr, nullptr);  // a group stop: on to ours
    }
  }
  return error;
}

}  // namespace leakprobe::cli
