// The semantics of each allocation function over the real allocator and the tracker:
// overflow checks, realloc corners, errno, what gets recorded and when. interpose.cpp only
// forwards here; unit tests call these with a fake RealAlloc.
//
// `t` may be null (probe dormant or failed): then these only forward.
#pragma once

#include <cstddef>

#include "real_alloc.h"
#include "tracker.h"

namespace leakprobe::api {

// `start` (malloc, calloc, realloc): where the stack walk may begin, the interposed entry
// point's own frame (unwind.h, WalkStart); nullptr: from the capture itself.
void* malloc(const RealAlloc& r, Tracker* t, size_t n, const WalkStart* start = nullptr);
void free(const RealAlloc& r, Tracker* t, void* p);
void* calloc(const RealAlloc& r, Tracker* t, size_t n, size_t size,
             const WalkStart* start = nullptr);
void* realloc(const RealAlloc& r, Tracker* t, void* p, size_t n, const WalkStart* start = nullptr);
void* reallocarray(const RealAlloc& r, Tracker* t, void* p, size_t n, size_t size);
int posix_memalign(const RealAlloc& r, Tracker* t, void** out, size_t align, size_t n);
void* aligned_alloc(const RealAlloc& r, Tracker* t, size_t align, size_t n);
void* memalign(const RealAlloc& r, Tracker* t, size_t align, size_t n);
void* valloc(const RealAlloc& r, Tracker* t, size_t n);
void* pvalloc(const RealAlloc& r, Tracker* t, size_t n);
size_t malloc_usable_size(const RealAlloc& r, void* p);

}  // namespace leakprobe::api
