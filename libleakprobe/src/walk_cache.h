// One WalkCache (walk.h) per thread, for the unwinder: the states of the thread's previous
// walk, so the next one can stop deriving frames where the two stacks meet.
//
// Not in TLS: the states take ~12 KiB, and initial-exec TLS (the only kind safe
// inside malloc) must stay small, or a probe loaded by dlopen (`leakprobe attach`) would not
// fit glibc's static TLS surplus. So the caches are slots of one reserved mapping; a thread
// claims one at its first captured allocation and gives it back when it exits (its hook in the
// probe's one pthread key, thread_exit.h). A thread that finds every slot taken, or a process
// with no pthread key left for the probe, walks without a cache.
#pragma once

#include "walk.h"

namespace leakprobe {

// Once, at start-up (registers with the thread-exit key, creating it if nothing did yet).
// Without the key, threads walk without cache.
void walk_cache_init();

// The calling thread's cache, claimed on first use; nullptr if none can be had. Call with the
// recursion guard held (claiming may allocate inside pthread_setspecific).
WalkCache* thread_walk_cache();

// Slots claimed now (tests: a thread that exited gave its slot back).
int walk_cache_slots_used();

// fork: the child has only the forking thread; every other thread's slot is free again.
void walk_cache_after_fork_in_child();

}  // namespace leakprobe
