// A function call made inside another process, on one of its threads that a PtraceSession
// holds: the thread's registers (general and extended: x87/SSE/AVX) and signal mask are saved,
// arguments that are data (a path, a settings text) are written onto its stack below the
// 128-byte red zone, and below them an rt_sigframe (sigframe.h) that holds the thread's state
// as it must resume, whose return address is a 12-byte trampoline written into never-executed
// padding of the C library's code (its last page, past its segment's end): the callee returns
// there, its result is stored in the frame, and rt_sigreturn puts the thread back.
// The call is entered the same way: the thread runs the trampoline's rt_sigreturn on a second
// frame below, which holds the call's registers and a mask blocking every signal (they stay
// pending, for the kernel to deliver once the thread is back), so registers and mask change in
// one step. While we live, the thread runs under PTRACE_SYSCALL: its stop
// at that rt_sigreturn's entry is our "call finished"; the next call, or restore(), starts from
// there. Had `leakprobe attach` been killed (SIGKILL) meanwhile, the kernel lets the thread go
// and the rt_sigreturn restores its registers, mask and extended state itself, the interrupted
// system call set to be issued again (regs_after_sigreturn): the target carries on. x86_64
// only; a thread with a CET shadow stack is refused (the fake return would fault).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "leakprobe/cli/ptrace_session.h"

namespace leakprobe::cli {

class RemoteCaller {
 public:
  // `thread` must be held by `session` and stay so. `trampoline_site`: 16 bytes of code_slack
  // (target_symbols.h), 16-aligned, where the return trampoline is written (kept there after:
  // a thread of an attach killed half-way may still be on its way to it). Saves the thread's
  // state; check error().
  RemoteCaller(PtraceSession& session, HeldThread& thread, uint64_t trampoline_site);
  ~RemoteCaller();  // restore(), if not done
  RemoteCaller(const RemoteCaller&) = delete;
  RemoteCaller& operator=(const RemoteCaller&) = delete;

  const std::string& error() const { return error_; }

  // Copies `bytes` onto the thread's stack (below what it uses); 0 on failure (error()).
  uint64_t push(const void* bytes, size_t size);
  uint64_t push_string(const std::string& s) { return push(s.c_str(), s.size() + 1); }

  struct Result {
    bool ok = false;
    uint64_t value = 0;  // rax
    std::string error;   // one line when !ok
  };
  // Calls the function at `address` with up to six integer/pointer arguments; waits at most
  // `timeout` for it to return. On a timeout the call is not abandoned: the thread is left to
  // finish it (left_running()), and returns through the frame that puts it back as it was.
  // Abandoning it half-way could leave a lock it took (the loader's, in dlopen) held for
  // ever; a call that cannot finish while the other threads are held finishes once they go.
  Result call(uint64_t address, const std::vector<uint64_t>& args,
              std::chrono::milliseconds timeout);

  // Reads a NUL-terminated string of at most `max` bytes from the target.
  std::string read_string(uint64_t address, size_t max) const;

  // Puts the signal mask, extended state, registers and stack bytes back, in an order where
  // a kill at any point leaves a thread that resumes rightly, and brings the thread to an
  // interrupt stop as it was found in (the session's release() then lets it go with its
  // interrupted system call resumed). Empty on success.
  std::string restore();

  // A call timed out and the thread was left to finish it: restore() then leaves it alone.
  bool left_running() const { return left_running_; }

 private:
  PtraceSession& session_;
  HeldThread& thread_;
  std::string error_;
  std::vector<unsigned char> xstate_;  // PTRACE_GETREGSET NT_X86_XSTATE (or FPREGS) image
  bool xstate_is_fpregs_ = false;
  uint64_t stack_top_ = 0;  // lowest byte already handed out by push()
  uint64_t saved_low_ = 0;  // the stack bytes [saved_low_, original top) as they were
  std::vector<unsigned char> saved_stack_;
  bool touched_ = false;
  bool restored_ = false;
  uint64_t trampoline_ = 0;    // its address in the target
  uint64_t sigmask_ = 0;       // the thread's own, PTRACE_GETSIGMASK
  bool masked_ = false;        // every signal blocked by us
  bool parked_ = false;        // stopped at our rt_sigreturn's entry
  bool at_interrupt_ = true;   // in an interrupt stop (PTRACE_EVENT_STOP)
  bool left_running_ = false;  // see left_running()
  int calls_ = 0;
  uint64_t place(uint64_t at, const void* bytes, size_t size);
};

}  // namespace leakprobe::cli
