// The frame rules already compiled, by code address, shared by every thread without a lock.
//
// A malloc-heavy host unwinds the same few hundred call sites over and over; compiling a rule
// (FDE search, CIE/FDE decoding) costs ~1 us, a lookup here a hash and three loads. Each slot
// is guarded by its own sequence number, so a reader never sees half of another thread's
// write: it retries nothing and simply treats a torn read as a miss.
// dlclose can put new code at an old address: the generation in each slot makes every rule
// stale after a dlclose (rule_cache_invalidate()).
#pragma once

#include <cstdint>

#include "frame_rule.h"

namespace leakprobe {

// Maps the table (once; false if memory cannot be had -- the walk then compiles every rule).
bool rule_cache_init();

// The rule for `pc` (a return address minus one, or an exact pc): cached, or compiled and
// cached.
FrameRule rule_for(uintptr_t pc);

// After a module was unloaded.
void rule_cache_invalidate();

}  // namespace leakprobe
