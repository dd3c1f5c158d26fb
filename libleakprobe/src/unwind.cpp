#include "unwind.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fd_numbers.h"
#include "stack_cache.h"
#define UNW_LOCAL_ONLY
#include <libunwind.h>

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

// pthread_getattr_np holds the thread's own lock while it allocates; setting a thread's cache
// up calls it, so that never happens from an allocation made inside it (it would deadlock).
uintptr_t g_getattr_begin = 0;
uintptr_t g_getattr_end = 0;

bool find_getattr() {
  Dl_info info;
  void* sym = nullptr;
  if (!dladdr1(reinterpret_cast<void*>(&pthread_getattr_np), &info, &sym, RTLD_DL_SYMENT) || !sym ||
      !info.dli_saddr)
    return false;
  const auto size = static_cast<const ElfW(Sym)*>(sym)->st_size;
  if (!size) return false;
  g_getattr_begin = reinterpret_cast<uintptr_t>(info.dli_saddr);
  g_getattr_end = g_getattr_begin + size;
  return true;
}

bool called_from_getattr(const uintptr_t* frames, int n) {
  for (int i = 0; i < n; ++i)
    if (frames[i] > g_getattr_begin && frames[i] <= g_getattr_end) return true;
  return false;
}

// libunwind 1.6 validates addresses by read()/write() on a pipe it opens at its first use
// and keeps in static storage. If the host later closes "all" descriptors (daemons do) and
// reuses those numbers, libunwind reads from, writes to and finally closes the host's
// descriptors. Opening that pipe while every low number is taken puts it just below
// kHighFd, far from the numbers a host hands out after such a sweep; when libunwind then
// finds it closed and re-opens it, the new pipe holds numbers the host does not know of.
// The host's own descriptor numbering is also left as it would be without the probe.
void init_unwinder_with_high_fds() {
  constexpr int kHighFd = fd_numbers::kUnwindPipe;
  rlimit lim;
  int high = kHighFd;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < static_cast<rlim_t>(kHighFd) + 16)
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
  // The first unwind runs libunwind's one-time initialisation, pipe included.
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
  void* ips[4];
  unw_backtrace(ips, 4);
  for (int i = 0; i < n; ++i) close(fillers[i]);
  if (base >= 0) close(base);
}

// Room for the frames before the caller's (unw_backtrace's own, then the probe's: with
// link-time optimisation the entry point and Tracker::capture_and_record, 3 in all) plus
// one to detect truncation. Every frame asked for costs ~80 instructions.
constexpr int kSlack = 4;
// Frames the slow unwind for the cache walks: capture_stack's callee frames, its caller
// chain inside the probe, the requested depth and one more.
constexpr int kStepMax = kMaxDepth + kSlack + 8;

// The walk that fills the cache needs every frame's SP, which unw_backtrace does not give
// and libunwind's unw_step costs two sigprocmask calls and a lock per frame (its global
// cache), ~300 ns a frame here. libgcc's unwinder gives IP and CFA per frame without system
// calls (_dl_find_object). libunwind also exports _Unwind_* names, so libgcc's are taken
// from its own handle; without libgcc_s there is no cache.
struct UnwindContext;
using TraceFn = int (*)(UnwindContext*, void*);
int (*g_gcc_backtrace)(TraceFn, void*) = nullptr;
uintptr_t (*g_gcc_get_ip)(UnwindContext*) = nullptr;
uintptr_t (*g_gcc_get_cfa)(UnwindContext*) = nullptr;

bool load_gcc_unwinder() {
  void* h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (!h) h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return false;
  g_gcc_backtrace = reinterpret_cast<int (*)(TraceFn, void*)>(dlsym(h, "_Unwind_Backtrace"));
  g_gcc_get_ip = reinterpret_cast<uintptr_t (*)(UnwindContext*)>(dlsym(h, "_Unwind_GetIP"));
  g_gcc_get_cfa = reinterpret_cast<uintptr_t (*)(UnwindContext*)>(dlsym(h, "_Unwind_GetCFA"));
  return g_gcc_backtrace && g_gcc_get_ip && g_gcc_get_cfa;
}

struct StepState {
  uintptr_t* ips;
  uintptr_t* sps;
  int max;
  int n;
};

constexpr int kUrcNoReason = 0;
constexpr int kUrcEndOfStack = 5;

int step_one(UnwindContext* ctx, void* arg) {
  auto* st = static_cast<StepState*>(arg);
  if (st->n >= st->max) return kUrcEndOfStack + 1;  // any other code stops the walk
  // libgcc calls back before moving the context's CFA to this frame: what it reports is
  // the callee's CFA, i.e. this frame's SP just after the return, as libunwind's UNW_REG_SP.
  st->ips[st->n] = g_gcc_get_ip(ctx);
  st->sps[st->n] = g_gcc_get_cfa(ctx);
  ++st->n;
  return kUrcNoReason;
}

// Unwinds frame by frame, keeping each frame's IP and SP. Returns the number of frames;
// *complete if the unwinder reached the outermost frame.
__attribute__((noinline)) int step_frames(uintptr_t* ips, uintptr_t* sps, int max, bool* complete) {
  StepState st{ips, sps, max, 0};
  int rc = g_gcc_backtrace(step_one, &st);
  *complete = rc == kUrcEndOfStack;
  return st.n;
}

// After a full unwind produced out[0..m)/truncated for the frame (ra, cfa), walks the same
// stack again frame by frame and stores it in the cache if -- and only if -- every frame
// from capture_stack's caller up is an ordinary call whose return address sits just below
// the caller's SP (x86_64: at SP_k - 8), and the walk gives exactly the same stack.
// Anything else (signal frames, frames the two unwinds see differently) stays uncached.
void** fill_cache(ThreadStackCache* tc, uintptr_t ra, uintptr_t cfa, int depth,
                  const uintptr_t* out, int m, bool truncated) {
  uintptr_t ips[kStepMax];
  uintptr_t sps[kStepMax];
  bool complete = false;
  int n = step_frames(ips, sps, kStepMax, &complete);
  int j = 0;
  while (j < n && !(ips[j] == ra && sps[j] == cfa)) ++j;
  if (j == n || !in_probe(ra)) return nullptr;
  const uintptr_t* c = ips + j;
  const uintptr_t* csp = sps + j;
  int cn = n - j;
  int o = 0;
  while (o < cn && in_probe(c[o])) ++o;
  int need = o + m + (truncated ? 1 : 0);
  // libgcc may report one outermost frame more than libunwind (which stops at the first
  // frame without a return address); the frames both report are the ones checked.
  if (truncated ? cn < need : (cn < need || !complete)) return nullptr;
  for (int k = 0; k < m; ++k)
    if (c[o + k] != out[k]) return nullptr;
  uintptr_t addr[kStepMax];
  uintptr_t val[kStepMax];
  for (int i = 1; i < need; ++i) {
    uintptr_t slot = csp[i] - sizeof(uintptr_t);
    // Read only inside this thread's stack, above capture_stack's frame.
    if (slot < cfa || slot + sizeof(uintptr_t) > stack_cache_stack_top(tc) ||
        (slot & (sizeof(uintptr_t) - 1)))
      return nullptr;
    if (*reinterpret_cast<const uintptr_t*>(slot) != c[i]) return nullptr;
    addr[i - 1] = slot;
    val[i - 1] = c[i];
  }
  return stack_cache_store(tc, ra, cfa, depth, addr, val, need - 1, o - 1, m, truncated);
}

}  // namespace

void unwind_init(bool stack_cache, int depth) {
  init_unwinder_with_high_fds();
  // Only a *shared* probe has frames to drop: when the core is linked into a test
  // executable, the executable's own code must not vanish from its stacks.
  SelfSearch s{reinterpret_cast<uintptr_t>(&unwind_init), 0, 0, false};
  if (dl_iterate_phdr(find_self, &s) && !s.is_executable) {
    g_self_begin = s.begin;
    g_self_end = s.end;
  }
  // The cache recognises the probe's own frames by address: without a shared probe (core
  // linked into a unit test) there are none, and every stack is unwound.
  stack_cache_init(stack_cache && g_self_end != 0 && find_getattr() && load_gcc_unwinder(),
                   depth + kSlack + 2);
  // The constructor's thread (the main thread) is set up here, where it holds no lock.
  stack_cache_setup_thread();
}

int capture_stack(uintptr_t* out, int depth, bool* truncated, void*** data) {
  const auto ra = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  const auto cfa = reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa());
  ThreadStackCache* tc = stack_cache_for(cfa);
  int cached = 0;
  *data = nullptr;
  if (tc && stack_cache_lookup(tc, ra, cfa, depth, out, &cached, truncated, data)) return cached;
  void* raw[kMaxDepth + kSlack + 1];
  int want = depth + kSlack + 1;
  int n = unw_backtrace(raw, want);
  // The first frames are libunwind's own and then the probe's (capture, tracker,
  // interposer, however inlined): skip up to the end of the first run of probe frames.
  int first = 0;
  if (g_self_end) {
    while (first < n && !in_probe(reinterpret_cast<uintptr_t>(raw[first]))) ++first;
    if (first == n) first = 0;  // no probe frame at all: keep everything rather than nothing
    while (first < n && in_probe(reinterpret_cast<uintptr_t>(raw[first]))) ++first;
  } else {
    first = n > 1 ? 1 : 0;  // core linked into a unit test: drop unw_backtrace only
  }
  int avail = n - first;
  *truncated = avail > depth;
  int m = avail < depth ? avail : depth;
  for (int i = 0; i < m; ++i) out[i] = reinterpret_cast<uintptr_t>(raw[first + i]);
  if (tc) {
    *data = fill_cache(tc, ra, cfa, depth, out, m, *truncated);
  } else if (stack_cache_thread_unset() && !called_from_getattr(out, m)) {
    // A thread's first allocation is unwound plainly; the cache starts with the next.
    stack_cache_setup_thread();
  }
  return m;
}

}  // namespace leakprobe
