// The return frame of `leakprobe attach`'s remote calls (sigframe.h), executed for real: a child
// process builds one with chosen registers, signal mask and SSE state, jumps into the
// trampoline's rt_sigreturn on it, and must land where the frame says with all of it restored,
// exactly as a target's thread does when the CLI was killed during a call. Plus the pure rules
// around it (regs_after_sigreturn, the executor's rank, the code padding found in libc).
#include "leakprobe/cli/sigframe.h"

#include <cpuid.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "interrupted_call.h"
#include "leakprobe/cli/attach_safety.h"
#include "leakprobe/cli/syscall_restart.h"
#include "leakprobe/cli/target_symbols.h"

using namespace leakprobe::cli;

namespace {

constexpr uint64_t kPattern = 0x1122334455667788ULL;
constexpr uint64_t kArg = 0x5eed;

// Where the frame sends the thread: its first argument and xmm7 (and ymm7's upper half, with
// AVX) are read before anything else can touch them; exit status 0 only when all is as the frame
// said.
bool with_avx = false;

extern "C" __attribute__((noinline, used)) void landing(uint64_t arg) {
  uint64_t xmm7 = 0, ymm7_high = 0;
  asm volatile("movq %%xmm7, %0" : "=r"(xmm7));
  if (with_avx) {
    alignas(16) uint64_t high[2] = {};
    asm volatile("vextractf128 $1, %%ymm7, %0" : "=m"(high));
    ymm7_high = high[0];
  }
  sigset_t now;
  sigprocmask(SIG_BLOCK, nullptr, &now);
  int status = 0;
  if (arg != kArg) status |= 1;
  if (xmm7 != kPattern) status |= 2;
  if (!sigismember(&now, SIGUSR2) || sigismember(&now, SIGUSR1)) status |= 4;
  if (with_avx && ymm7_high != ~kPattern) status |= 8;
  _exit(status);
}

alignas(64) unsigned char child_stack[64 * 1024];
alignas(64) unsigned char xsave_area[16 * 1024];

uint64_t xcr0() {
  uint32_t lo = 0, hi = 0;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

// `use_xsave`: the frame carries a full XSAVE image (as from ptrace on a target), with ymm7
// holding a pattern the landing checks; else a legacy FXSAVE image.
[[noreturn]] void run_frame_in_child(bool use_xsave) {
  user_regs_struct regs{};
  uint16_t cs = 0, ss = 0;
  asm volatile("mov %%cs, %0" : "=r"(cs));
  asm volatile("mov %%ss, %0" : "=r"(ss));
  regs.cs = cs;
  regs.ss = ss;
  regs.rip = reinterpret_cast<uint64_t>(&landing);
  // As at a function's entry: rsp + 8 a multiple of 16.
  regs.rsp = (reinterpret_cast<uint64_t>(child_stack) + sizeof(child_stack) / 2) & ~uint64_t{15};
  regs.rsp -= 8;
  regs.rdi = kArg;
  regs.eflags = 0x202;
  std::vector<unsigned char> image;
  XsaveLayout layout;
  if (use_xsave) {
    layout = xsave_layout_for(xcr0());
    if (!layout.xsave || layout.size > sizeof(xsave_area)) _exit(12);
    with_avx = (layout.features & 4) != 0;
    alignas(32) const uint64_t pattern[4] = {kPattern, 0, ~kPattern, 0};
    if (with_avx) {
      asm volatile("vmovdqu %0, %%ymm7" : : "m"(pattern) : "xmm7");
    } else {
      asm volatile("movdqu %0, %%xmm7" : : "m"(pattern) : "xmm7");
    }
    const uint64_t rfbm = layout.features;
    asm volatile("xsave64 %0"
                 : "=m"(xsave_area)
                 : "a"(static_cast<uint32_t>(rfbm)), "d"(static_cast<uint32_t>(rfbm >> 32))
                 : "memory");
    image.assign(xsave_area, xsave_area + layout.size);
    const uint64_t features = xcr0();  // where ptrace puts it
    std::memcpy(image.data() + 464, &features, sizeof(features));
  } else {
    alignas(64) unsigned char fx[512] = {};
    asm volatile("fxsave64 %0" : "=m"(fx));
    std::memcpy(fx + 160 + 7 * 16, &kPattern, sizeof(kPattern));
    image.assign(fx, fx + sizeof(fx));
  }
  // Something else in the registers now: only the frame can bring the pattern back.
  asm volatile("pxor %%xmm7, %%xmm7" : : : "xmm7");
  if (with_avx) asm volatile("vpxor %%ymm7, %%ymm7, %%ymm7" : : : "xmm7");
  const uint64_t mask = 1ULL << (SIGUSR2 - 1);
  const uint64_t top = reinterpret_cast<uint64_t>(child_stack) + sizeof(child_stack);
  const SigFrame f = build_sigframe(top, regs, mask, image, layout, 0);
  if (f.start < reinterpret_cast<uint64_t>(child_stack) || (f.start + 8) % 16 != 0) _exit(10);
  std::memcpy(reinterpret_cast<void*>(f.start), f.bytes.data(), f.bytes.size());
  // The trampoline's own last two instructions, with rsp where the callee's `ret` leaves it.
  asm volatile(
      "mov %0, %%rsp\n"
      "mov $15, %%eax\n"
      "syscall\n"
      :
      : "r"(f.start + 8)
      : "memory");
  _exit(11);
}

int run_child(bool use_xsave) {
  const pid_t child = fork();
  if (child == 0) run_frame_in_child(use_xsave);
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child) return -1;
  if (!WIFEXITED(status)) return 1000 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace

TEST(SigFrame, RtSigreturnOnItRestoresRegistersMaskAndSseState) {
  EXPECT_EQ(run_child(false), 0)
      << "1: argument, 2: xmm7, 4: mask, 10/11: the frame, 1000+: signal";
}

TEST(SigFrame, RtSigreturnOnItRestoresTheFullXsaveState) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) GTEST_SKIP() << "no XSAVE here";
  EXPECT_EQ(run_child(true), 0)
      << "1: argument, 2: xmm7, 4: mask, 8: ymm7's upper half, 10/11/12: the frame, 1000+: signal";
}

TEST(SigFrame, LayoutAsTheKernelReadsIt) {
  user_regs_struct regs{};
  regs.rip = 0xabc;
  regs.rsp = 0x7000;
  std::vector<unsigned char> xsave(1024, 0);
  const uint32_t size = 832;
  const uint64_t top = 0x100000;
  XsaveLayout layout;
  layout.xsave = true;
  layout.features = 7;
  layout.size = size;
  const SigFrame f = build_sigframe(top, regs, 0x5, xsave, layout, 0xfeed);
  EXPECT_EQ((f.start + 8) % 16, 0u);
  EXPECT_LE(f.start + f.bytes.size(), top);
  uint64_t word = 0;
  std::memcpy(&word, f.bytes.data(), 8);
  EXPECT_EQ(word, 0xfeedu);
  std::memcpy(&word, f.bytes.data() + kFrameMcontext + 16 * 8, 8);  // rip, after 16 registers
  EXPECT_EQ(word, 0xabcu);
  std::memcpy(&word, f.bytes.data() + kFrameSigmask, 8);
  EXPECT_EQ(word, 0x5u);
  uint64_t fp = 0;
  std::memcpy(&fp, f.bytes.data() + kFrameMcontext + 23 * 8, 8);  // after cr2
  EXPECT_EQ(fp % 64, 0u);
  ASSERT_GE(fp, f.start + kFrameHead);
  uint32_t magic = 0, sw_size = 0;
  uint64_t features = 0;
  std::memcpy(&magic, f.bytes.data() + (fp - f.start) + 464, 4);
  EXPECT_EQ(magic, 0x46505853u);
  std::memcpy(&features, f.bytes.data() + (fp - f.start) + 464 + 8, 8);
  EXPECT_EQ(features, 7u);
  std::memcpy(&sw_size, f.bytes.data() + (fp - f.start) + 464 + 16, 4);
  EXPECT_EQ(sw_size, size);
  std::memcpy(&magic, f.bytes.data() + (fp - f.start) + size, 4);
  EXPECT_EQ(magic, 0x46505845u);
  // The alternate signal stack is left alone: a mode the kernel rejects.
  int32_t ss_flags = 0;
  std::memcpy(&ss_flags, f.bytes.data() + kFrameUcontext + 24, 4);
  EXPECT_EQ(ss_flags, 3);
}

TEST(SigFrame, AfterSigreturnTheInterruptedCallIsIssuedAgain) {
  for (long code : {kERestartSys, kERestartNoIntr, kERestartNoHand, kERestartRestartBlock}) {
    const user_regs_struct r = regs_after_sigreturn(in_call(SYS_nanosleep, -code), false);
    EXPECT_EQ(r.rax, static_cast<unsigned long long>(SYS_nanosleep)) << code;
    EXPECT_EQ(r.rip, 0x1000u);
  }
  // epoll_wait's stop EINTR only when no signal is pending; a finished call keeps its result.
  EXPECT_EQ(regs_after_sigreturn(in_call(SYS_epoll_wait, -EINTR), true).rip, 0x1000u);
  EXPECT_EQ(regs_after_sigreturn(in_call(SYS_epoll_wait, -EINTR), false).rip, 0x1002u);
  EXPECT_EQ(regs_after_sigreturn(in_call(SYS_read, 5), true).rax, 5u);
  // restart_syscall's arguments are gone: it answers EINTR rather than run again.
  const user_regs_struct r =
      regs_after_sigreturn(in_call(SYS_restart_syscall, -kERestartSys), true);
  EXPECT_EQ(static_cast<long>(r.rax), -EINTR);
  EXPECT_EQ(r.rip, 0x1002u);
  user_regs_struct user{};
  user.orig_rax = static_cast<unsigned long long>(-1L);
  user.rip = 0x4444;
  EXPECT_EQ(regs_after_sigreturn(user, true).rip, 0x4444u);
}

TEST(SigFrame, AThreadAlreadyInRestartSyscallIsTheLastChoice) {
  ThreadView restarted, user_code;
  restarted.tid = 1;
  restarted.regs = in_call(SYS_restart_syscall, -kERestartSys);
  restarted.stack_room = kExecutorStackRoom;
  user_code.tid = 2;
  user_code.regs.orig_rax = static_cast<unsigned long long>(-1L);
  user_code.stack_room = kExecutorStackRoom;
  const SafetyVerdict v = judge_threads({restarted, user_code}, {});
  ASSERT_TRUE(v.safe);
  EXPECT_EQ(v.executor, 1);
}

TEST(SigFrame, TheCLibraryHasCodePaddingForTheTrampoline) {
  std::string error;
  const auto maps = read_maps(getpid(), error);
  ASSERT_TRUE(error.empty()) << error;
  std::string libc;
  for (const auto& e : maps) {
    if (e.path.find("/libc.so") != std::string::npos) libc = e.path;
  }
  ASSERT_FALSE(libc.empty());
  const LoadedModule m = load_module(getpid(), maps, libc);
  ASSERT_TRUE(m.ok) << m.error;
  ASSERT_FALSE(m.code_slack.empty());
  for (const auto& s : m.code_slack) {
    // Inside an executable mapping, and not inside any function libc exports.
    bool in_text = false;
    for (const auto& t : m.text) in_text = in_text || (s.lo >= t.lo && s.hi <= t.hi);
    EXPECT_TRUE(in_text);
    for (const auto& f : m.functions)
      EXPECT_FALSE(f.value < s.hi && f.value + f.size > s.lo) << f.name;
  }
}
