// The verification mode (LEAKPROBE_VERIFY_UNWIND=1): every stack the probe's unwinder takes is
// taken again by libunwind and the two are compared. Kept out of unwind.cpp so the hot path
// holds only the walk; meant for tests and for doubting users, never for production.
#pragma once

#include <cstdint>

namespace leakprobe {

struct UnwindStats;

// Loads libunwind (dlopen, only in this mode). `in_probe` tells the probe's own frames, or is
// null when the core is linked into a test executable. False if libunwind is not there.
bool verify_unwind_init(bool (*in_probe)(uintptr_t));

// Compares our walk (out[0..n), cut at `depth` if `truncated`) with libunwind's, taken here.
// Call directly from capture_stack: libunwind's frames above the caller are dropped by count.
void verify_unwind(const uintptr_t* ours, int n, bool truncated, int depth);

// Fills the verification counters of `s`.
void verify_unwind_counts(UnwindStats* s);

}  // namespace leakprobe
