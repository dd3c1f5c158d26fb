#include "unwind.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>

#include "fd_numbers.h"
#include "rule_cache.h"
#include "thread_stack.h"

namespace leakprobe {
namespace {

uintptr_t g_self_begin = 0;
uintptr_t g_self_end = 0;

struct SelfSearch {
  uintptr_t probe_addr;
  uintptr_t begin;
  uintptr_t end;
  bool is_executable;
};

int find_self(struct dl_phdr_info* info, size_t, void* data) {
  auto* s = static_cast<SelfSearch*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uintptr_t b = info->dlpi_addr + ph.p_vaddr;
    uintptr_t e = b + ph.p_memsz;
    if (s->probe_addr >= b && s->probe_addr < e) {
      s->begin = b;
      s->end = e;
      // The main executable is reported with an empty name.
      s->is_executable = !info->dlpi_name || !info->dlpi_name[0];
      return 1;
    }
  }
  return 0;
}

bool in_probe(uintptr_t ip) { return ip >= g_self_begin && ip < g_self_end; }

bool called_from_getattr(const uintptr_t* frames, int n) {
  for (int i = 0; i < n; ++i)
    if (in_getattr(frames[i])) return true;
  return false;
}

// Counters of abnormal stops: rare, so a shared relaxed add costs nothing that matters.
std::atomic<uint64_t> g_stopped[static_cast<int>(RuleWhy::kCount)];
std::atomic<uint64_t> g_stopped_unknown_stack{0};
std::atomic<uint64_t> g_stopped_bad_frame{0};

// A frame walk never takes more steps than this (probe frames + depth + slack).
constexpr int kMaxSteps = kMaxDepth + 16;
// Signal frames may move the walk to another stack (a sigaltstack handler's frames, then the
// interrupted code's); a few such hops at most.
constexpr int kMaxStackHops = 4;

enum class Stop { kEnd, kDepth, kRule, kUnknownStack, kBadFrame };

struct Walk {
  int n = 0;
  bool truncated = false;
  Stop stop = Stop::kEnd;
  RuleWhy why = RuleWhy::kNone;
};

// Stack memory the walk may read. Inside the thread's own stack, above the point where the
// walk entered it, every word is mapped: plain loads. Anywhere else (a sigaltstack handler, a
// makecontext coroutine, a thread whose bounds are not known yet) a page is first read with
// process_vm_readv, which fails with EFAULT instead of faulting -- no descriptor, no signal
// handler, and only on those rare stacks. Pages proven readable are remembered for this walk
// only: a coroutine stack may be unmapped before the next one.
class StackReader {
 public:
  explicit StackReader(uintptr_t sp) : bounds_(thread_stack_bounds()) { enter(sp); }

  // Called when the walk moves to `sp` through a signal frame.
  void enter(uintptr_t sp) {
    const bool own = bounds_.hi && sp >= bounds_.lo && sp < bounds_.hi;
    lo_ = sp;
    // Readable without a check: [lo_, lo_ + span_] (the last word starts at hi - 8).
    span_ = own && bounds_.hi - sp >= sizeof(uintptr_t) ? bounds_.hi - sizeof(uintptr_t) - sp : 0;
    if (!own) lo_ = ~uintptr_t{0};  // nothing readable without a check
  }

  // x86_64 loads need no alignment, and inside the thread's stack any word is mapped.
  bool read(uintptr_t addr, uintptr_t* v) {
    if (__builtin_expect(addr - lo_ <= span_, 1)) {
      *v = *reinterpret_cast<const volatile uintptr_t*>(addr);
      return true;
    }
    return read_elsewhere(addr, v);
  }

 private:
  __attribute__((noinline)) bool read_elsewhere(uintptr_t addr, uintptr_t* v) {
    if (addr & (sizeof(uintptr_t) - 1)) return false;  // a word never straddles two pages
    const uintptr_t page = addr & ~uintptr_t{4095};
    for (int i = 0; i < npages_; ++i) {
      if (pages_[i] == page) {
        *v = *reinterpret_cast<const volatile uintptr_t*>(addr);
        return true;
      }
    }
    if (!pid_) pid_ = getpid();
    iovec local{v, sizeof *v};
    iovec remote{reinterpret_cast<void*>(addr), sizeof *v};
    if (process_vm_readv(pid_, &local, 1, &remote, 1, 0) != sizeof *v) return false;
    if (npages_ < kPages) pages_[npages_++] = page;
    return true;
  }

 private:
  static constexpr int kPages = 8;
  const StackBounds bounds_;
  uintptr_t lo_ = 0;
  uintptr_t span_ = 0;
  pid_t pid_ = 0;
  int npages_ = 0;
  uintptr_t pages_[kPages];
};

// Walks outward from the register state (pc, sp, bp) of a frame inside the probe, storing
// the return addresses of the frames past the probe's own into out[0..depth).
__attribute__((always_inline)) inline Walk walk(uintptr_t pc, uintptr_t sp, uintptr_t bp,
                                                uintptr_t* out, int depth) {
  Walk w;
  StackReader mem(sp);
  bool exact_pc = true;  // the first pc and a signal-interrupted pc are not return addresses
  bool in_prefix = g_self_end != 0;
  int hops = 0;
  for (int step = 0; step < kMaxSteps; ++step) {
    const PackedRule r = rule_for(exact_pc ? pc : pc - 1);
    const RuleKind kind = rule_bits::kind(r);
    uintptr_t next_sp;
    if (__builtin_expect(kind == RuleKind::kNormal, 1)) {
      const uintptr_t cfa = (rule_bits::cfa_from_bp(r) ? bp : sp) + rule_bits::cfa_offset(r);
      // Every ordinary step moves up the stack: a loop or a wild value ends the walk.
      if (cfa <= sp) {
        w.stop = Stop::kBadFrame;
        return w;
      }
      if (rule_bits::bp_saved(r) &&
          !mem.read(cfa + static_cast<uintptr_t>(rule_bits::bp_offset(r)), &bp)) {
        w.stop = Stop::kUnknownStack;
        return w;
      }
      if (!mem.read(cfa - sizeof(uintptr_t), &pc)) {
        w.stop = Stop::kUnknownStack;
        return w;
      }
      next_sp = cfa;
      exact_pc = false;
    } else if (kind == RuleKind::kEnd) {
      return w;
    } else if (kind == RuleKind::kUnsupported) {
      w.stop = Stop::kRule;
      w.why = rule_bits::why(r);
      return w;
    } else {
      // glibc's __restore_rt: the stack pointer is at the ucontext the kernel pushed.
      constexpr uintptr_t kGregs = offsetof(ucontext_t, uc_mcontext.gregs);
      uintptr_t next_pc;
      if (!mem.read(sp + kGregs + REG_RIP * sizeof(greg_t), &next_pc) ||
          !mem.read(sp + kGregs + REG_RSP * sizeof(greg_t), &next_sp) ||
          !mem.read(sp + kGregs + REG_RBP * sizeof(greg_t), &bp)) {
        w.stop = Stop::kUnknownStack;
        return w;
      }
      if (++hops > kMaxStackHops) {
        w.stop = Stop::kBadFrame;
        return w;
      }
      mem.enter(next_sp);  // the interrupted code's stack: this one or the thread's own
      pc = next_pc;
      exact_pc = true;
    }
    sp = next_sp;
    if (pc == 0) return w;
    if (in_prefix) {
      if (in_probe(pc)) continue;
      in_prefix = false;
    }
    if (w.n == depth) {
      w.truncated = true;
      w.stop = Stop::kDepth;
      return w;
    }
    out[w.n++] = pc;
  }
  w.truncated = true;
  w.stop = Stop::kDepth;
  return w;
}

void count_stop(const Walk& w) {
  switch (w.stop) {
    case Stop::kEnd:
    case Stop::kDepth:
      return;
    case Stop::kRule:
      g_stopped[static_cast<int>(w.why)].fetch_add(1, std::memory_order_relaxed);
      return;
    case Stop::kUnknownStack:
      g_stopped_unknown_stack.fetch_add(1, std::memory_order_relaxed);
      return;
    case Stop::kBadFrame:
      g_stopped_bad_frame.fetch_add(1, std::memory_order_relaxed);
      return;
  }
}

// ---- Verification mode: every stack is also taken by libunwind and compared. ----
// Off by default and meant for tests: libunwind 1.6 keeps a pipe for address validation,
// opened here just below descriptor 1000 (see init_libunwind), which a host that takes that
// number over would share with it.

int (*g_unw_backtrace)(void**, int) = nullptr;
std::atomic<uint64_t> g_verified{0};
std::atomic<uint64_t> g_same{0};
std::atomic<uint64_t> g_shorter{0};
std::atomic<uint64_t> g_longer{0};
std::atomic<uint64_t> g_different{0};

void init_libunwind() {
  void* h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  auto fn = reinterpret_cast<int (*)(void**, int)>(dlsym(h, "unw_backtrace"));
  if (!fn) return;
  // libunwind opens its validation pipe at its first unwind: do that while every low number
  // is taken, so the pipe lands far from the numbers a host hands out.
  constexpr int kHighFd = fd_numbers::kUnwindPipe;
  rlimit lim;
  int high = kHighFd;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 &&
      lim.rlim_cur < static_cast<rlim_t>(kHighFd) + fd_numbers::kUnwindPipeBelowLimit)
    high =
        lim.rlim_cur > 64 ? static_cast<int>(lim.rlim_cur) - fd_numbers::kUnwindPipeBelowLimit : 0;
  int fillers[kHighFd];
  int n = 0;
  int base = high ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
  if (base >= 0) {
    while (n < kHighFd) {
      int fd = fcntl(base, F_DUPFD_CLOEXEC, 0);
      if (fd < 0) break;
      fillers[n++] = fd;
      if (fd >= high - 3) break;
    }
  }
  void* ips[4];
  fn(ips, 4);
  for (int i = 0; i < n; ++i) close(fillers[i]);
  if (base >= 0) close(base);
  g_unw_backtrace = fn;
}

__attribute__((noinline)) void verify(const uintptr_t* ours, int n, bool truncated, int depth) {
  void* raw[kMaxDepth + 32];
  int m = g_unw_backtrace(raw, depth + 32);
  // libunwind's own frame, then the probe's frames (however inlined), then the stack.
  int first = 0;
  if (g_self_end) {
    while (first < m && !in_probe(reinterpret_cast<uintptr_t>(raw[first]))) ++first;
    while (first < m && in_probe(reinterpret_cast<uintptr_t>(raw[first]))) ++first;
  } else {
    first = 2;  // unw_backtrace's caller (verify) and capture_stack in a unit test
  }
  int theirs = m - first;
  if (theirs > depth) theirs = depth;
  g_verified.fetch_add(1, std::memory_order_relaxed);
  const int common = n < theirs ? n : theirs;
  for (int i = 0; i < common; ++i) {
    if (ours[i] != reinterpret_cast<uintptr_t>(raw[first + i])) {
      g_different.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  if (n == theirs || (truncated && n == depth && theirs == depth))
    g_same.fetch_add(1, std::memory_order_relaxed);
  else if (n < theirs)
    g_shorter.fetch_add(1, std::memory_order_relaxed);
  else
    g_longer.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

void unwind_init(bool verify_unwind) {
  // Only a *shared* probe has frames to drop: when the core is linked into a test
  // executable, the executable's own code must not vanish from its stacks.
  SelfSearch s{reinterpret_cast<uintptr_t>(&unwind_init), 0, 0, false};
  if (dl_iterate_phdr(find_self, &s) && !s.is_executable) {
    g_self_begin = s.begin;
    g_self_end = s.end;
  }
  thread_stack_init();
  // The constructor's thread (the main thread) is set up here, where it holds no lock.
  thread_stack_setup();
  if (verify_unwind) init_libunwind();
}

__attribute__((noinline)) int capture_stack(uintptr_t* out, int depth, bool* truncated) {
  uintptr_t pc;
  uintptr_t sp;
  uintptr_t bp;
  // The frame rule for this very instruction describes this function's frame.
  asm volatile(
      "lea 0(%%rip), %0\n\t"
      "mov %%rsp, %1\n\t"
      "mov %%rbp, %2"
      : "=r"(pc), "=r"(sp), "=r"(bp));
  if (__builtin_expect(thread_stack_unset(), 0)) {
    // A thread's first capture reads its stack the slow way, whole, to learn whether the
    // allocation comes from inside pthread_getattr_np (which holds the thread's own lock,
    // which looking the bounds up would take again). If not, the bounds are set up for the
    // next captures; a walk cut short (it may hide that frame) leaves that to a later one.
    uintptr_t all[kMaxDepth];
    Walk whole = walk(pc, sp, bp, all, kMaxDepth);
    if ((whole.stop == Stop::kEnd || !whole.truncated) && whole.stop != Stop::kUnknownStack &&
        !called_from_getattr(all, whole.n))
      thread_stack_setup();
  }
  Walk w = walk(pc, sp, bp, out, depth);
  count_stop(w);
  *truncated = w.truncated;
  if (g_unw_backtrace) verify(out, w.n, w.truncated, depth);
  return w.n;
}

UnwindStats unwind_stats() {
  UnwindStats s;
  for (int i = 0; i < static_cast<int>(RuleWhy::kCount); ++i)
    s.stopped[i] = g_stopped[i].load(std::memory_order_relaxed);
  s.stopped_unknown_stack = g_stopped_unknown_stack.load(std::memory_order_relaxed);
  s.stopped_bad_frame = g_stopped_bad_frame.load(std::memory_order_relaxed);
  s.verifying = g_unw_backtrace != nullptr;
  s.verified = g_verified.load(std::memory_order_relaxed);
  s.same = g_same.load(std::memory_order_relaxed);
  s.shorter = g_shorter.load(std::memory_order_relaxed);
  s.longer = g_longer.load(std::memory_order_relaxed);
  s.different = g_different.load(std::memory_order_relaxed);
  return s;
}

}  // namespace leakprobe
