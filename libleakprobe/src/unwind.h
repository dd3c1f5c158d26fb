// Call-stack capture with libunwind. Runs before any probe lock is taken.
#pragma once

#include <cstdint>

namespace leakprobe {

inline constexpr int kMaxDepth = 128;

// One-time setup: per-thread unwind caches, and the address range of the probe's own code
// so its frames can be dropped whatever the inlining did.
void unwind_init();

// Fills `out` (room for `depth`) with return addresses, leaf first, starting at the first
// frame outside the probe. Returns the number of frames; sets *truncated if the stack was
// deeper than `depth`.
int capture_stack(uintptr_t* out, int depth, bool* truncated);

}  // namespace leakprobe
