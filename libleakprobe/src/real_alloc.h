// The allocator underneath us: glibc's (or whatever comes next in the lookup order),
// resolved with dlsym(RTLD_NEXT).
//
// dlsym itself may allocate before it has returned the real malloc, so until resolution is
// complete allocations are served from a small static bump pool. free/realloc and
// malloc_usable_size recognise pool pointers, which can never be handed to the real free.
#pragma once

#include <cstddef>

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

// The resolved table; resolves on first use. While resolution is in progress (dlsym
// re-entering us) the pool_* functions below must be used instead, see interpose.cpp.
const RealAlloc& real_alloc();

// True once real_alloc() has finished resolving.
bool real_alloc_ready();

// Bootstrap pool, used only while dlsym runs. Zeroed memory, 16-byte aligned (or `align`).
void* pool_alloc(size_t size, size_t align = 16);
bool is_pool_ptr(const void* p);
size_t pool_size(const void* p);  // requested size of a pool block

}  // namespace leakprobe
