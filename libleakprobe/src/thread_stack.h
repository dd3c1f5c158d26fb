// Where the calling thread's stack lies, so the unwinder reads stack memory only inside it:
// every read of a return address or saved register is checked against these bounds instead
// of being "validated" with a system call (writing the address into a pipe, as libunwind
// does, needs a descriptor of ours, and a host that takes that number over gets our writes).
//
// Bounds come from pthread_getattr_np once per thread, from a context where that is safe:
// the main thread at start-up, other threads at their first captured allocation unless that
// allocation is made by pthread_getattr_np itself (it allocates while holding the thread's
// own lock, so calling it again from there would deadlock).
#pragma once

#include <cstdint>

namespace leakprobe {

struct StackBounds {
  uintptr_t lo = 0;
  uintptr_t hi = 0;  // exclusive; 0 = not known
};

// Finds pthread_getattr_np's code range (once, at start-up).
void thread_stack_init();

// The calling thread's bounds, or {0,0} if unknown: not set up yet (see thread_stack_setup),
// or they could not be had.
StackBounds thread_stack_bounds();

// True if this thread's bounds have not been looked for yet.
bool thread_stack_unset();

// True if `pc` (a return address) is inside pthread_getattr_np.
bool in_getattr(uintptr_t pc);

// Looks the calling thread's bounds up (takes the recursion guard: pthread_getattr_np may
// allocate). Call only from a context where the thread holds no lock of its own.
void thread_stack_setup();

}  // namespace leakprobe
