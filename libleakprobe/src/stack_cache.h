// A per-thread cache of recent unwinds for exact mode. Most allocations repeat a call chain
// already seen from the same stack position; re-checking that chain costs a few loads and
// compares where libunwind costs ~80 instructions a frame.
//
// An entry is keyed by (RA, CFA) of capture_stack's own frame (the return address into the
// probe and the stack pointer there). It remembers, for every frame above, the stack slot
// that held that frame's return address and the value found there, and it is a hit only if
// every slot still holds that value: the same return addresses at the same places is the same
// chain of frames, so the recorded stack is the one an unwind would give.
//
// Safety: slots are only ever read inside the calling thread's own stack ([CFA, stack top),
// checked when an entry is filled; a lookup with the key's CFA outside the thread's stack --
// sigaltstack, makecontext/coroutine stacks -- never touches the cache). Memory is mmapped
// per thread on first use and unmapped by a pthread key destructor at thread exit.
#pragma once

#include <cstdint>

namespace leakprobe {

// Called once from unwind_init(). `enabled` is LEAKPROBE_STACK_CACHE; `max_slots` bounds the
// frames an entry validates (the requested depth plus the probe's own frames and one).
void stack_cache_init(bool enabled, int max_slots);

struct StackCacheEntry;

// The calling thread's table, or nullptr if the cache is off, not set up (yet) for this
// thread, or `cfa` is not inside the thread's own stack.
struct ThreadStackCache;
ThreadStackCache* stack_cache_for(uintptr_t cfa);

// True if the cache is on and this thread has not been set up yet.
bool stack_cache_thread_unset();
// One-time setup of the calling thread: its stack bounds (pthread_getattr_np, which takes
// the thread's own lock and allocates inside it, so this must never run from an allocation
// made by pthread_getattr_np itself) and its table. Takes the recursion guard.
void stack_cache_setup_thread();

// The top (exclusive) of the thread's stack that `tc` belongs to.
uintptr_t stack_cache_stack_top(const ThreadStackCache* tc);

// Copies a cached stack into out[] and returns true if the entry for (ra, cfa) is still valid.
// *data then points at the entry's caller data (nullptr until the caller stores there).
bool stack_cache_lookup(ThreadStackCache* tc, uintptr_t ra, uintptr_t cfa, int depth,
                        uintptr_t* out, int* n, bool* truncated, void*** data);

// Stores a verified chain: slot_addr[i]/slot_val[i] for the frames above capture_stack's
// caller's frame (return address slots, leaf first); the stack is slot_val[skip .. skip+n),
// and if `truncated` one more slot proves there was a deeper frame. Refused (no entry) if any
// slot lies outside [cfa, stack top) or the chain does not fit. Returns the new entry's
// caller data slot (set to nullptr), or nullptr if nothing was stored.
void** stack_cache_store(ThreadStackCache* tc, uintptr_t ra, uintptr_t cfa, int depth,
                         const uintptr_t* slot_addr, const uintptr_t* slot_val, int nslots,
                         int skip, int n, bool truncated);

}  // namespace leakprobe
