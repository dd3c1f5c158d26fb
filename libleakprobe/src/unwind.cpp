#include "unwind.h"

#include <link.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>

#include "rule_cache.h"
#include "thread_stack.h"
#include "unwind_verify.h"
#include "walk.h"
#include "walk_cache.h"

namespace leakprobe {
namespace {

// walk.h reads the ucontext a signal trampoline's frame holds at these offsets.
static_assert(offsetof(ucontext_t, uc_mcontext.gregs) == 40 && REG_RIP == 16 && REG_RSP == 15 &&
                  REG_RBP == 10 && sizeof(greg_t) == 8,
              "x86_64 Linux ucontext layout");

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

bool g_verifying = false;

bool called_from_getattr(const uintptr_t* frames, int n) {
  for (int i = 0; i < n; ++i)
    if (in_getattr(frames[i])) return true;
  return false;
}

// Counters of abnormal stops: rare, so a shared relaxed add costs nothing that matters.
std::atomic<uint64_t> g_stopped[static_cast<int>(RuleWhy::kCount)];
std::atomic<uint64_t> g_stopped_unknown_stack{0};
std::atomic<uint64_t> g_stopped_bad_frame{0};

// Stack memory the walk may read. Inside the thread's own stack, above the point where the
// walk entered it, every word is mapped: plain loads. Anywhere else (a sigaltstack handler, a
// makecontext coroutine, a thread whose bounds are not known yet) a page is first read with
// process_vm_readv, which fails with EFAULT instead of faulting -- no descriptor, no signal
// handler, and only on those rare stacks. Pages proven readable are remembered for this walk
// only: a coroutine stack may be unmapped before the next one.
class StackReader {
 public:
  explicit StackReader(uintptr_t sp) : bounds_(thread_stack_bounds()) {
    enter(sp);
    own_ = lo_ != ~uintptr_t{0};
  }

  // The walk started on the thread's own stack, whose bounds are known.
  bool own() const { return own_; }

  // Called when the walk moves to `sp` through a signal frame.
  void enter(uintptr_t sp) {
    const bool own = bounds_.hi && sp >= bounds_.lo && sp < bounds_.hi;
    lo_ = sp;
    // Readable without a check: [lo_, lo_ + span_] (the last word starts at hi - 8).
    span_ = own && bounds_.hi - sp >= sizeof(uintptr_t) ? bounds_.hi - sizeof(uintptr_t) - sp : 0;
    if (!own) lo_ = ~uintptr_t{0};  // nothing readable without a check
  }

  // x86_64 loads need no alignment, and inside the thread's stack any word is mapped.
  // The slow path gets a word of its own: were `v` (the walk's pc or RBP) handed to an
  // out-of-line call, the walk would keep it in memory instead of a register.
  bool read(uintptr_t addr, uintptr_t* v) {
    if (__builtin_expect(addr - lo_ <= span_, 1)) {
      *v = *reinterpret_cast<const volatile uintptr_t*>(addr);
      return true;
    }
    uintptr_t word;
    if (!read_elsewhere(addr, &word)) return false;
    *v = word;
    return true;
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
  bool own_ = false;
  int npages_ = 0;
  uintptr_t pages_[kPages];
};

// The walk's view of this thread: its stack through StackReader, rules from the shared cache.
class ThreadEnv {
 public:
  explicit ThreadEnv(uintptr_t sp) : mem_(sp) {}
  bool read(uintptr_t addr, uintptr_t* v) { return mem_.read(addr, v); }
  void enter(uintptr_t sp) { mem_.enter(sp); }
  PackedRule rule(uintptr_t pc) { return rule_for(pc); }
  bool skip(uintptr_t pc) const { return in_probe(pc); }
  bool own() const { return mem_.own(); }
  uintptr_t load(uintptr_t addr) { return *reinterpret_cast<const volatile uintptr_t*>(addr); }

 private:
  StackReader mem_;
};

// Walks and rule lookups are counted per thread and added to the shared counters every
// kFlushWalks walks: a shared add per lookup, or even per walk, would cost more than the
// lookups themselves (a cache line bouncing between the allocating threads). A snapshot may
// therefore miss up to kFlushWalks - 1 walks per thread.
constexpr uint32_t kFlushWalks = 256;
std::atomic<uint64_t> g_walks{0};
std::atomic<uint64_t> g_rule_lookups{0};
std::atomic<uint64_t> g_frames_reused{0};
__thread uint32_t t_walks __attribute__((tls_model("initial-exec"))) = 0;
__thread uint32_t t_rule_lookups __attribute__((tls_model("initial-exec"))) = 0;
__thread uint32_t t_frames_reused __attribute__((tls_model("initial-exec"))) = 0;

inline void count_walk(const Walk& w) {
  t_rule_lookups += static_cast<uint32_t>(w.rules);
  t_frames_reused += static_cast<uint32_t>(w.reused);
  if (__builtin_expect(++t_walks < kFlushWalks, 1)) return;
  g_walks.fetch_add(t_walks, std::memory_order_relaxed);
  g_rule_lookups.fetch_add(t_rule_lookups, std::memory_order_relaxed);
  g_frames_reused.fetch_add(t_frames_reused, std::memory_order_relaxed);
  t_walks = 0;
  t_rule_lookups = 0;
  t_frames_reused = 0;
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
  walk_cache_init();
  // The constructor's thread (the main thread) is set up here, where it holds no lock.
  thread_stack_setup();
  if (verify_unwind) g_verifying = verify_unwind_init(g_self_end ? &in_probe : nullptr);
}

__attribute__((noinline)) int capture_stack(uintptr_t* out, int depth, bool* truncated,
                                            uint32_t** hint, const WalkStart* start) {
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
    ThreadEnv whole_env(sp);
    Walk whole = walk(whole_env, pc, sp, bp, all, kMaxDepth);
    if ((whole.stop == Stop::kEnd || !whole.truncated) && whole.stop != Stop::kUnknownStack &&
        !called_from_getattr(all, whole.n))
      thread_stack_setup();
  }
  if (start) {
    pc = start->pc;
    sp = start->sp;
    bp = start->bp;
  }
  ThreadEnv env(sp);
  // The thread's previous walk, unless the rules changed since (a module was unloaded).
  WalkCache* cache = thread_walk_cache();
  if (cache) {
    const uint64_t generation = rule_cache_generation();
    if (__builtin_expect(cache->tag != generation, 0)) {
      cache->clear();
      cache->tag = generation;
    }
  }
  Walk w = walk(env, pc, sp, bp, out, depth, cache);
  count_stop(w);
  count_walk(w);
  *truncated = w.truncated;
  if (hint) *hint = w.first >= 0 ? &cache->states[w.first].hint : nullptr;
  if (__builtin_expect(g_verifying, 0)) verify_unwind(out, w.n, w.truncated, depth);
  return w.n;
}

UnwindStats unwind_stats() {
  UnwindStats s;
  for (int i = 0; i < static_cast<int>(RuleWhy::kCount); ++i)
    s.stopped[i] = g_stopped[i].load(std::memory_order_relaxed);
  s.stopped_unknown_stack = g_stopped_unknown_stack.load(std::memory_order_relaxed);
  s.stopped_bad_frame = g_stopped_bad_frame.load(std::memory_order_relaxed);
  s.verifying = g_verifying;
  verify_unwind_counts(&s);
  s.walks = g_walks.load(std::memory_order_relaxed);
  s.rule_lookups = g_rule_lookups.load(std::memory_order_relaxed);
  s.rule_misses = rule_cache_misses();
  s.frames_reused = g_frames_reused.load(std::memory_order_relaxed);
  return s;
}

}  // namespace leakprobe
