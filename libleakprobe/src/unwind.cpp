#include "unwind.h"

#include <link.h>
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

}  // namespace

void unwind_init() {
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
  // Only a *shared* probe has frames to drop: when the core is linked into a test
  // executable, the executable's own code must not vanish from its stacks.
  SelfSearch s{reinterpret_cast<uintptr_t>(&unwind_init), 0, 0, false};
  if (dl_iterate_phdr(find_self, &s) && !s.is_executable) {
    g_self_begin = s.begin;
    g_self_end = s.end;
  }
}

int capture_stack(uintptr_t* out, int depth, bool* truncated) {
  // Room for our own frames (interposer, tracker, this function) plus one to detect
  // truncation.
  constexpr int kSlack = 8;
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
