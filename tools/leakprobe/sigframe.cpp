#include "leakprobe/cli/sigframe.h"

#include <cpuid.h>

#include <cstring>

namespace leakprobe::cli {

namespace {

// struct sigcontext (64-bit) and struct ucontext as the kernel defines them (uapi
// asm/sigcontext.h, asm/ucontext.h); not glibc's ucontext_t, whose sigset is 128 bytes.
struct KernelSigcontext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;  // address of the XSAVE image; 0 would reset the FPU
  uint64_t reserved1[8];
};
static_assert(sizeof(KernelSigcontext) == 256, "the kernel's struct sigcontext");

struct KernelUcontext {
  uint64_t flags;
  uint64_t link;
  uint64_t ss_sp;
  int32_t ss_flags;
  int32_t pad;
  uint64_t ss_size;
  KernelSigcontext mcontext;
  uint64_t sigmask;
};
static_assert(sizeof(KernelUcontext) == kFrameSigmask + 8 - kFrameUcontext, "the ucontext");

constexpr uint64_t kUcFpXstate = 0x1, kUcSigcontextSs = 0x2, kUcStrictRestoreSs = 0x4;
constexpr uint32_t kFpXstateMagic1 = 0x46505853, kFpXstateMagic2 = 0x46505845;
constexpr size_t kSwReserved = 464;  // struct _fpx_sw_bytes inside the FXSAVE area

}  // namespace

XsaveLayout xsave_layout_for(uint64_t features) {
  XsaveLayout l;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d)) return l;
  features &= ~(uint64_t{1} << 18);  // XTILEDATA: per-process permission, 8 KiB
  uint64_t size = 576;               // FXSAVE area and XSAVE header
  for (unsigned i = 2; i < 63; ++i) {
    if (!(features >> i & 1)) continue;
    if (!__get_cpuid_count(0xd, i, &a, &b, &c, &d) || a == 0) return l;
    if (b + a > size) size = b + a;
  }
  l.xsave = (features & 3) == 3;
  l.features = features;
  l.size = static_cast<uint32_t>(size);
  return l;
}

XsaveLayout xsave_layout(const std::vector<unsigned char>& image) {
  if (image.size() < 576) return {};
  uint64_t xcr0 = 0;
  std::memcpy(&xcr0, image.data() + kSwReserved, sizeof(xcr0));
  XsaveLayout l = xsave_layout_for(xcr0);
  if (l.size > image.size()) l.xsave = false;
  return l;
}

SigFrame build_sigframe(uint64_t top, const user_regs_struct& regs, uint64_t sigmask,
                        const std::vector<unsigned char>& xstate, const XsaveLayout& layout,
                        uint64_t return_address) {
  const bool xsave = layout.xsave && layout.size >= 576 && layout.size <= xstate.size();
  const uint64_t image = xsave ? layout.size : xstate.size();
  const uint64_t fp_bytes = xstate.size() > image + 4 ? xstate.size() : image + 4;
  const uint64_t fp = (top - fp_bytes) & ~uint64_t{63};
  const uint64_t start = ((fp - kFrameHead + 8) & ~uint64_t{15}) - 8;
  SigFrame f;
  f.start = start;
  f.bytes.assign(fp + fp_bytes - start, 0);
  unsigned char* b = f.bytes.data();
  std::memcpy(b, &return_address, 8);

  KernelUcontext uc{};
  uc.flags = kUcSigcontextSs | kUcStrictRestoreSs | (xsave ? kUcFpXstate : 0);
  // rt_sigreturn also sets the thread's alternate signal stack from uc_stack; we cannot read
  // the thread's, so give a mode the kernel rejects (neither 0, SS_ONSTACK nor SS_DISABLE):
  // do_sigaltstack() answers -EINVAL, which rt_sigreturn ignores, and the stack stays as is.
  uc.ss_flags = 3;
  KernelSigcontext& m = uc.mcontext;
  m.r8 = regs.r8, m.r9 = regs.r9, m.r10 = regs.r10, m.r11 = regs.r11;
  m.r12 = regs.r12, m.r13 = regs.r13, m.r14 = regs.r14, m.r15 = regs.r15;
  m.rdi = regs.rdi, m.rsi = regs.rsi, m.rbp = regs.rbp, m.rbx = regs.rbx;
  m.rdx = regs.rdx, m.rax = regs.rax, m.rcx = regs.rcx, m.rsp = regs.rsp;
  m.rip = regs.rip, m.eflags = regs.eflags;
  m.cs = static_cast<uint16_t>(regs.cs);
  m.ss = static_cast<uint16_t>(regs.ss);
  m.fpstate = fp;
  uc.sigmask = sigmask;
  std::memcpy(b + kFrameUcontext, &uc, sizeof(uc));
  // siginfo: zeros.
  unsigned char* fpb = b + (fp - start);
  std::memcpy(fpb, xstate.data(), xstate.size());
  if (xsave) {
    // struct _fpx_sw_bytes: magic1, extended_size, xfeatures, xstate_size; then MAGIC2.
    const uint32_t extended = layout.size + 4;
    std::memset(fpb + kSwReserved, 0, 48);
    std::memcpy(fpb + kSwReserved, &kFpXstateMagic1, 4);
    std::memcpy(fpb + kSwReserved + 4, &extended, 4);
    std::memcpy(fpb + kSwReserved + 8, &layout.features, 8);
    std::memcpy(fpb + kSwReserved + 16, &layout.size, 4);
    std::memcpy(fpb + image, &kFpXstateMagic2, 4);
  }
  return f;
}

}  // namespace leakprobe::cli
