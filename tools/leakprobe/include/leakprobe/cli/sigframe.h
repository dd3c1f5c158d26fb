// The frame the kernel's rt_sigreturn reads (x86_64), built by us: a thread whose injected call
// returns into `mov $15,%eax; syscall` with its stack pointer on such a frame gets back every
// general register, its signal mask and its extended (x87/SSE/AVX) state exactly as the frame
// says, by the kernel, with no tracer needed. remote_call.h builds one below each call, so a
// `leakprobe attach` killed (SIGKILL) half-way leaves a target that puts itself back.
// Layout as the kernel's own signal delivery writes it (arch/x86/kernel/signal_64.c,
// struct rt_sigframe): return address, ucontext, siginfo, then the XSAVE image 64-byte aligned
// and followed by FP_XSTATE_MAGIC2. Pure: unit-tested without a process.
#pragma once

#include <sys/user.h>

#include <cstdint>
#include <vector>

namespace leakprobe::cli {

struct SigFrame {
  uint64_t start = 0;  // the return address slot: the callee's rsp at entry (start + 8 is a
                       // multiple of 16, as at any call's entry); rt_sigreturn wants start + 8
  std::vector<unsigned char> bytes;  // to be written at `start`
};

// Offsets inside the frame (from `start`) that a caller or a test may need.
constexpr uint64_t kFrameUcontext = 8;
constexpr uint64_t kFrameMcontext = kFrameUcontext + 40;  // after flags, link, stack_t
constexpr uint64_t kFrameSigmask = kFrameMcontext + 256;
constexpr uint64_t kFrameHead = kFrameSigmask + 8 + 128;  // + the kernel sigset, siginfo

// How the kernel is to read an XSAVE image in a signal frame: which state components and how
// many bytes (struct _fpx_sw_bytes, which a frame carries in the FXSAVE area's software-reserved
// bytes and ptrace's image does not). Without it (`xsave` false) rt_sigreturn restores only the
// x87/SSE part and resets the rest (AVX upper halves, AVX-512) to its initial state.
struct XsaveLayout {
  bool xsave = false;
  uint64_t features = 0;  // XSTATE components to restore
  uint32_t size = 0;      // bytes of the standard-format image that hold them
};
// For a PTRACE_GETREGSET NT_X86_XSTATE image: its components are the XCR0 the kernel puts at
// byte 464 of it (as gdb reads it), less AMX tile data (allowed per process: not restored, its
// state starts over); offsets and sizes from this CPU's CPUID leaf 0xD (the target runs on the
// same CPU). `xsave` false when the image is too short for them.
XsaveLayout xsave_layout(const std::vector<unsigned char>& image);
// The same for the components `features` (the test's own image).
XsaveLayout xsave_layout_for(uint64_t features);

// A frame that ends at or below `top`. `regs`: what the thread gets back (cs and ss as taken by
// PTRACE_GETREGS). `xstate`: a standard-format XSAVE image read as `layout` says, or a 512-byte
// FXSAVE image (layout.xsave false). `sigmask`: the thread's (PTRACE_GETSIGMASK). The return
// address slot holds `return_address`.
SigFrame build_sigframe(uint64_t top, const user_regs_struct& regs, uint64_t sigmask,
                        const std::vector<unsigned char>& xstate, const XsaveLayout& layout,
                        uint64_t return_address);

// The code the callee returns into, 12 bytes, position-independent: the callee's result goes
// into the return address slot just popped (below rsp, where no signal frame is written: the
// kernel skips 128 bytes), then rt_sigreturn. A live tracer stops the thread at that system
// call's entry (PTRACE_SYSCALL) and reads the result from the slot.
//   48 89 44 24 f8   mov %rax,-0x8(%rsp)
//   b8 0f 00 00 00   mov $15,%eax          (__NR_rt_sigreturn)
//   0f 05            syscall
constexpr unsigned char kReturnTrampoline[12] = {0x48, 0x89, 0x44, 0x24, 0xf8, 0xb8,
                                                 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};

}  // namespace leakprobe::cli
