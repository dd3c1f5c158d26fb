// The probe's one pthread key: every per-thread exit hook of the probe (the walk cache's slot,
// the thread's bookkeeping record) runs from its one destructor.
//
// A process has PTHREAD_KEYS_MAX (1024) keys and the probe lives in programs that did not
// plan for it, some of which use keys up: the probe takes at most one, the first time any
// part asks, and without it runs on with the hooks off (said once on stderr).
//
// The hooks' values are in initial-exec TLS (one pointer each); the key's own value is only
// a mark that the thread has something to run. The destructor re-arm rules of pthread keys
// hold per hook as they would with a key each: glibc clears the key before the destructor
// runs, so a hook set again from a later key's destructor (a thread whose first allocation
// happens while it exits) re-arms the key and runs in the next round, up to
// PTHREAD_DESTRUCTOR_ITERATIONS rounds.
#pragma once

namespace leakprobe {

enum class ThreadExitHook : int { kThreadRecord, kWalkCache, kCount };

// Called once per exiting thread with the value the thread set; may not allocate.
using ThreadExitFn = void (*)(void* value);

// Creates the key (once; later calls return the first answer). False when no key is left.
bool thread_exit_init();

// `fn` runs for every thread that set a value for `hook`. Before any thread sets one.
void thread_exit_register(ThreadExitHook hook, ThreadExitFn fn);

// The calling thread's value for `hook` (non-null), run when it exits. False without the key
// or when pthread_setspecific fails (its first use of a key past 31 allocates: call with the
// recursion guard held).
bool thread_exit_set(ThreadExitHook hook, void* value);

}  // namespace leakprobe
