// Call-stack capture with libunwind. Runs before any probe lock is taken.
#pragma once

#include <cstdint>

namespace leakprobe {

inline constexpr int kMaxDepth = 128;

// One-time setup: per-thread unwind caches, the address range of the probe's own code
// so its frames can be dropped whatever the inlining did, and (if `stack_cache`) the
// per-thread cache of validated stacks (stack_cache.h).
void unwind_init(bool stack_cache, int depth);

// Fills `out` (room for `depth`) with return addresses, leaf first, starting at the first
// frame outside the probe. Returns the number of frames; sets *truncated if the stack was
// deeper than `depth`. *data is nullptr, or (stack cache) the cache entry's slot for the
// caller's data about this stack: what the caller stored there the last time this
// validated stack was seen, or nullptr for it to fill in.
int capture_stack(uintptr_t* out, int depth, bool* truncated, void*** data);

}  // namespace leakprobe
