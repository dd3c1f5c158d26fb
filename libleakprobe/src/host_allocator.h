// Which allocator the probe forwards to, taken whole from one object.
//
// Every allocation function the probe exports must reach the same heap as the host's malloc:
// a block from jemalloc handed to glibc's realloc crashes the host (jemalloc and
// tcmalloc do not export reallocarray, jemalloc not pvalloc, and `sort`, `ls`, `grep -r`
// and mosquitto's privilege drop then mixed the two heaps). So the probe picks one object,
// the allocator, and takes each function from that object only; a function the object does
// not define is built over its malloc/realloc/memalign, never looked up elsewhere.
//
// The allocator is the object whose malloc the program calls, when that is not the probe
// (another allocator before it in LD_PRELOAD: the probe then records nothing, see
// foreign_allocator()), else the next malloc after the probe (glibc's, or an allocator
// preloaded after it). "The malloc the program calls" looks through an executable's
// canonical PLT stub: a non-PIE program that takes malloc's address (Debian's python3.11)
// makes dlsym(RTLD_DEFAULT, "malloc") name that stub, although its calls go on to the first
// real definition.
#pragma once

#include "real_alloc.h"

namespace leakprobe {

// Fills `out` from one allocator object as described above. False if no malloc, free,
// calloc and realloc could be found in one object (then `out` is left as it was).
// Called once, by resolve_real_alloc, with the recursion guard held.
bool resolve_host_allocator(RealAlloc* out);

// Fills the null entries of `r` (one object's own functions; malloc, free and realloc
// present) with emulations over that object's malloc and its one aligned primitive
// (memalign, posix_memalign or aligned_alloc; with none, aligned requests fail with
// ENOMEM). Remembers `r` for the emulations: one table per process (unit tests excepted).
void fill_allocator_gaps(RealAlloc* r);

// The file of the allocator the program calls instead of the probe's malloc, or nullptr when
// the program calls the probe's. Valid once resolve_host_allocator has run.
const char* foreign_allocator();

// Attach mode: the program's calls reach the probe through rewritten GOT slots, so the
// allocator found above is the one it calls through us, not a foreign one.
void forget_foreign_allocator();

// The definition of `name` the program's calls reach (the global lookup scope's, looking
// through an executable's canonical PLT stub), or nullptr. Takes dlsym's locks.
void* host_definition(const char* name);

}  // namespace leakprobe
