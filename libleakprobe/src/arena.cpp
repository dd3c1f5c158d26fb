#include "arena.h"

#include <sys/mman.h>

#include <atomic>

namespace leakprobe {
namespace {
std::atomic<uint64_t> g_mapped{0};
constexpr size_t kPage = 4096;
size_t round_up(size_t n, size_t to) { return (n + to - 1) & ~(to - 1); }

// Where the probe's mappings are, so that the memory section can count their resident
// pages. A few dozen live at once (tables, arena chunks, a snapshot's scratch rows).
struct Range {
  uintptr_t start;
  size_t len;
};
constexpr int kMaxRanges = 1024;
Range g_ranges[kMaxRanges];
int g_nranges = 0;
uint64_t g_unlisted = 0;
SpinLock g_ranges_lock;

void remember(void* p, size_t bytes) {
  SpinGuard g(g_ranges_lock);
  if (g_nranges < kMaxRanges) {
    g_ranges[g_nranges++] = Range{reinterpret_cast<uintptr_t>(p), bytes};
  } else {
    g_unlisted += bytes;
  }
}

void forget(void* p, size_t bytes) {
  SpinGuard g(g_ranges_lock);
  const auto start = reinterpret_cast<uintptr_t>(p);
  for (int i = 0; i < g_nranges; ++i) {
    if (g_ranges[i].start == start && g_ranges[i].len == bytes) {
      g_ranges[i] = g_ranges[--g_nranges];
      return;
    }
  }
  g_unlisted -= g_unlisted >= bytes ? bytes : g_unlisted;
}
}  // namespace

uint64_t resident_bytes(uintptr_t start, size_t len) {
  const uintptr_t first = start & ~(kPage - 1);
  const uintptr_t end = round_up(start + len, kPage);
  unsigned char vec[4096];  // one byte per page: 16 MiB per mincore call
  uint64_t pages = 0;
  for (uintptr_t at = first; at < end;) {
    size_t n = (end - at) / kPage;
    if (n > sizeof(vec)) n = sizeof(vec);
    if (mincore(reinterpret_cast<void*>(at), n * kPage, vec) != 0) return pages * kPage;
    for (size_t i = 0; i < n; ++i) pages += vec[i] & 1;
    at += n * kPage;
  }
  return pages * kPage;
}

void arena_reset_after_fork_in_child() { g_ranges_lock.reset(); }

uint64_t resident_probe_bytes(uint64_t* unlisted) {
  // Copied first: mincore under the spinlock would hold up an arena chunk being mapped.
  static Range copy[kMaxRanges];  // only the snapshot writer calls this, serialised
  int n;
  {
    SpinGuard g(g_ranges_lock);
    n = g_nranges;
    for (int i = 0; i < n; ++i) copy[i] = g_ranges[i];
    *unlisted = g_unlisted;
  }
  uint64_t total = 0;
  for (int i = 0; i < n; ++i) total += resident_bytes(copy[i].start, copy[i].len);
  return total;
}

void* map_pages(size_t bytes) {
  bytes = round_up(bytes, kPage);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  g_mapped.fetch_add(bytes, std::memory_order_relaxed);
  remember(p, bytes);
  return p;
}

void unmap_pages(void* p, size_t bytes) {
  if (!p) return;
  bytes = round_up(bytes, kPage);
  forget(p, bytes);
  munmap(p, bytes);
  g_mapped.fetch_sub(bytes, std::memory_order_relaxed);
}

uint64_t mapped_bytes() { return g_mapped.load(std::memory_order_relaxed); }

void* Arena::alloc(size_t bytes, size_t align) {
  SpinGuard g(lock_);
  auto misalign = reinterpret_cast<uintptr_t>(cur_) & (align - 1);
  size_t skip = misalign ? align - misalign : 0;
  if (!cur_ || left_ < bytes + skip) {
    size_t chunk = bytes + align > kChunk ? round_up(bytes + align, kPage) : kChunk;
    char* c = static_cast<char*>(map_pages(chunk));
    if (!c) return nullptr;
    cur_ = c;
    left_ = chunk;
    skip = 0;
  }
  char* p = cur_ + skip;
  cur_ = p + bytes;
  left_ -= bytes + skip;
  return p;
}

}  // namespace leakprobe
