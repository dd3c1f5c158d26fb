#include "arena.h"

#include <sys/mman.h>

#include <atomic>

namespace leakprobe {
namespace {
std::atomic<uint64_t> g_mapped{0};
constexpr size_t kPage = 4096;
size_t round_up(size_t n, size_t to) { return (n + to - 1) & ~(to - 1); }
}  // namespace

void* map_pages(size_t bytes) {
  bytes = round_up(bytes, kPage);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  g_mapped.fetch_add(bytes, std::memory_order_relaxed);
  return p;
}

void unmap_pages(void* p, size_t bytes) {
  if (!p) return;
  bytes = round_up(bytes, kPage);
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
