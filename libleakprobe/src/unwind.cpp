#include "unwind.h"

#include <fcntl.h>
#include <link.h>
#include <sys/resource.h>
#include <unistd.h>
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

// libunwind 1.6 validates addresses by read()/write() on a pipe it opens at its first use
// and keeps in static storage. If the host later closes "all" descriptors (daemons do) and
// reuses those numbers, libunwind reads from, writes to and finally closes the host's
// descriptors. Opening that pipe while every low number is taken puts it just below
// kHighFd, far from the numbers a host hands out after such a sweep; when libunwind then
// finds it closed and re-opens it, the new pipe holds numbers the host does not know of.
// The host's own descriptor numbering is also left as it would be without the probe.
void init_unwinder_with_high_fds() {
  constexpr int kHighFd = 1000;
  rlimit lim;
  int high = kHighFd;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < static_cast<rlim_t>(kHighFd) + 16)
    high = lim.rlim_cur > 64 ? static_cast<int>(lim.rlim_cur) - 16 : 0;
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

}  // namespace

void unwind_init() {
  init_unwinder_with_high_fds();
  // Only a *shared* probe has frames to drop: when the core is linked into a test
  // executable, the executable's own code must not vanish from its stacks.
  SelfSearch s{reinterpret_cast<uintptr_t>(&unwind_init), 0, 0, false};
  if (dl_iterate_phdr(find_self, &s) && !s.is_executable) {
    g_self_begin = s.begin;
    g_self_end = s.end;
  }
}

int capture_stack(uintptr_t* out, int depth, bool* truncated) {
  // Room for the frames before the caller's (unw_backtrace's own, then the probe's: with
  // link-time optimisation the entry point and Tracker::capture_and_record, 3 in all) plus
  // one to detect truncation. Every frame asked for costs ~80 instructions.
  constexpr int kSlack = 4;
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
  return m;
}

}  // namespace leakprobe
