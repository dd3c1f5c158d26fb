#include "leakprobe/cli/remote_call.h"

#include <elf.h>
#include <errno.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include <cstring>

#include "leakprobe/cli/syscall_restart.h"

namespace leakprobe::cli {

namespace {

constexpr uint64_t kRedZone = 128;  // the System V x86_64 ABI's, below rsp, the callee's own
constexpr size_t kMaxPushed = 16 * 1024;

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

}  // namespace

RemoteCaller::RemoteCaller(PtraceSession& session, HeldThread& thread)
    : session_(session), thread_(thread) {
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
}

RemoteCaller::~RemoteCaller() {
  if (!restored_) restore();
}

uint64_t RemoteCaller::push(const void* bytes, size_t size) {
  if (!error_.empty()) return 0;
  const uint64_t original_top = (thread_.regs.rsp - kRedZone) & ~uint64_t{15};
  const uint64_t at = (stack_top_ - size) & ~uint64_t{15};
  if (original_top - at > kMaxPushed) {
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
  // The return address, 0, in a 16-byte aligned pair of zero words: the callee starts with
  // rsp at its upper half, so rsp + 8 is a multiple of 16 as the ABI wants at a call's entry.
  const uint64_t zeros[2] = {0, 0};
  const uint64_t pair = push(zeros, sizeof(zeros));
  if (pair == 0) {
    result.error = error_;
    return result;
  }
  const uint64_t slot = pair + 8;
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
  regs.rsp = slot;
  regs.eflags &= ~((1ULL << 10) | (1ULL << 8));  // DF clear (the ABI), TF clear
  disarm_restart(regs);
  if (::ptrace(PTRACE_SETREGS, thread_.tid, nullptr, &regs) != 0) {
    result.error = std::string("cannot set the registers: ") + std::strerror(errno);
    return result;
  }
  thread_.regs_replaced = true;
  if (::ptrace(PTRACE_CONT, thread_.tid, nullptr, nullptr) != 0) {
    result.error = std::string("cannot resume thread ") + std::to_string(thread_.tid) + ": " +
                   std::strerror(errno);
    return result;
  }
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
      // Stop it where it is; restore() puts it back where it was before the call.
      ::ptrace(PTRACE_INTERRUPT, thread_.tid, nullptr, nullptr);
      // Any stop holds it again: our interrupt, or a signal's delivery-stop (that signal is
      // kept and handed back on release, unless it is our own return fault).
      const Stop again = session_.wait_stop(thread_.tid, session_.step_timeout());
      if (again.kind == StopKind::kSignal) {
        siginfo_t info{};
        if (::ptrace(PTRACE_GETSIGINFO, thread_.tid, nullptr, &info) == 0 &&
            again.signal != SIGSEGV)
          thread_.held_signals.push_back(info);
      } else if (again.kind == StopKind::kGone) {
        thread_.gone = true;
      } else if (again.kind == StopKind::kTimeout || again.kind == StopKind::kError) {
        result.error = "the call did not return within " + std::to_string(timeout.count()) +
                       " ms, and thread " + std::to_string(thread_.tid) +
                       " could not be stopped again to put it back";
        return result;
      }
      result.error = "the call did not return within " + std::to_string(timeout.count()) + " ms";
      return result;
    }
    if (stop.kind == StopKind::kSignal) {
      user_regs_struct now{};
      ::ptrace(PTRACE_GETREGS, thread_.tid, nullptr, &now);
      if (stop.signal == SIGSEGV && now.rip == 0) {
        result.ok = true;
        result.value = now.rax;
        return result;  // held in the SIGSEGV's delivery-stop, which is never delivered
      }
      siginfo_t info{};
      ::ptrace(PTRACE_GETSIGINFO, thread_.tid, nullptr, &info);
      if (stop.signal == SIGSEGV || stop.signal == SIGBUS || stop.signal == SIGILL ||
          stop.signal == SIGFPE || stop.signal == SIGSYS) {
        result.error = std::string("the call faulted (") + ::strsignal(stop.signal) + " at 0x" +
                       [&] {
                         char b[32];
                         std::snprintf(b, sizeof(b), "%llx", now.rip);
                         return std::string(b);
                       }() +
                       (stop.signal == SIGSYS ? ", perhaps a seccomp filter" : "") + ")";
        return result;  // held in that delivery-stop; restore() undoes the call
      }
      // Someone else's signal, arriving while the thread runs our call: kept, handed back on
      // release, not delivered into the middle of dlopen.
      thread_.held_signals.push_back(info);
    }
    // An interrupt or group stop: carry on.
    if (::ptrace(PTRACE_CONT, thread_.tid, nullptr, nullptr) != 0) {
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
  if (thread_.gone) return {};
  std::string error;
  if (touched_ && !saved_stack_.empty() &&
      !write_memory(session_.pid(), saved_low_, saved_stack_.data(), saved_stack_.size()))
    error = "cannot put the stack of thread " + std::to_string(thread_.tid) + " back";
  if (!xstate_.empty()) {
    int rc;
    if (xstate_is_fpregs_) {
      rc = static_cast<int>(::ptrace(PTRACE_SETFPREGS, thread_.tid, nullptr, xstate_.data()));
    } else {
      iovec iov{xstate_.data(), xstate_.size()};
      rc = static_cast<int>(
          ::ptrace(PTRACE_SETREGSET, thread_.tid, reinterpret_cast<void*>(NT_X86_XSTATE), &iov));
    }
    if (rc != 0 && error.empty())
      error = "cannot put the floating-point registers of thread " + std::to_string(thread_.tid) +
              " back";
  }
  // The general registers go back in the session's release(), which also sets a stopped
  // system call to resume; the saved set is thread_.regs, never changed.
  if (thread_.regs_replaced && ::ptrace(PTRACE_SETREGS, thread_.tid, nullptr, &thread_.regs) != 0 &&
      error.empty())
    error = "cannot put the registers of thread " + std::to_string(thread_.tid) + " back";
  return error;
}

}  // namespace leakprobe::cli
