// The allocator underneath us: every function from one object, the allocator the host
// uses (glibc's, or one preloaded after or before the probe): see host_allocator.h.
//
// dlsym itself may allocate before it has returned the real malloc, so until resolution is
// complete allocations are served from a small static bump pool. free/realloc and
// malloc_usable_size recognise pool pointers, which can never be handed to the real free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace leakprobe {

struct RealAlloc {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  int (*posix_memalign)(void**, size_t, size_t);
  void* (*aligned_alloc)(size_t, size_t);
  void* (*memalign)(size_t, size_t);
  void* (*valloc)(size_t);
  void* (*pvalloc)(size_t);
  size_t (*malloc_usable_size)(void*);
};

namespace detail {
extern RealAlloc g_real;
extern std::atomic<int> g_real_state;  // 0 unresolved, 1 resolving, 2 ready
const RealAlloc& resolve_real_alloc();
}  // namespace detail

// True once real_alloc() has finished resolving. Inline: every interposed call asks.
inline bool real_alloc_ready() { return detail::g_real_state.load(std::memory_order_acquire) == 2; }

// The resolved table; resolves on first use. While resolution is in progress (dlsym
// re-entering us) the pool_* functions below must be used instead, see interpose.cpp.
inline const RealAlloc& real_alloc() {
  return real_alloc_ready() ? detail::g_real : detail::resolve_real_alloc();
}

// Bootstrap pool, used only while dlsym runs. Zeroed memory, 16-byte aligned (or `align`).
void* pool_alloc(size_t size, size_t align = 16);
namespace detail {
inline constexpr size_t kPoolSize = 64 * 1024;
extern char g_pool[kPoolSize];
}  // namespace detail
// Inline: free() and malloc_usable_size() ask this on every call.
inline bool is_pool_ptr(const void* p) {
  return reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(detail::g_pool) <
         detail::kPoolSize;
}
size_t pool_size(const void* p);  // requested size of a pool block

}  // namespace leakprobe
