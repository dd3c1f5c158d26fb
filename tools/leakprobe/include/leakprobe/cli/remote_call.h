// A function call made inside another process, on one of its threads that a PtraceSession
// holds: the thread's registers (general and extended: x87/SSE/AVX) are saved, arguments that
// are data (a path, a settings text) are written onto its stack below the 128-byte red zone,
// a return address of 0 is pushed, so the callee's `ret` faults at address 0: that SIGSEGV is
// our "call finished", caught by ptrace and never delivered. Everything the calls changed,
// registers and stack bytes, is put back by restore(). x86_64 only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "leakprobe/cli/ptrace_session.h"

namespace leakprobe::cli {

class RemoteCaller {
 public:
  // `thread` must be held by `session` and stay so. Saves its state; check error().
  RemoteCaller(PtraceSession& session, HeldThread& thread);
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
  // `timeout` for it to return. On a timeout the thread is stopped again where it is (the call
  // abandoned) and the result says so.
  Result call(uint64_t address, const std::vector<uint64_t>& args,
              std::chrono::milliseconds timeout);

  // Reads a NUL-terminated string of at most `max` bytes from the target.
  std::string read_string(uint64_t address, size_t max) const;

  // Puts the stack bytes and the registers back (the session's release() then lets the thread
  // go with its interrupted system call resumed). Empty on success.
  std::string restore();

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
};

}  // namespace leakprobe::cli
