// Attach mode's call rewriting: point other modules' GOT/PLT slots at the probe's functions,
// and put them back.
//
// A probe loaded by dlopen into a running process (`leakprobe attach PID`) is found by no
// symbol lookup: every module already bound malloc, socket, dlopen... to libc's. So the probe
// rewrites, in every module of the base namespace except itself and the dynamic linker, each
// JUMP_SLOT and GLOB_DAT relocation slot (RELA, x86_64) of a function it exports, and
// remembers the old value. What it rewrites is derived from one place: the functions the
// probe's own dynamic symbol table defines (the LP_EXPORT interposers), apart from its API
// (leakprobe_*). Their addresses are read from that table too, never taken as `&malloc`,
// which in a dlopened probe is libc's.
//
// Safety rules (each one is why a step is there):
// - Only modules that are fully loaded: _dl_find_object knows an object only after dlopen
//   relocated it and applied its RELRO, so a module another thread is loading right now is
//   never touched (its loader would otherwise fault on a page we made read-only, or
//   overwrite our slot). Only the base namespace (_r_debug's list): a dlmopen namespace has
//   its own libc, whose blocks must never reach ours.
// - All under the loader's write lock, held by being inside a dl_iterate_phdr callback: no
//   module can be unlinked, hence unmapped, while we write into it. Nothing in there takes
//   another lock or allocates (a dlsym or dladdr there would be the AB/BA deadlock heaptrack
//   had).
// - A slot is rewritten only if it holds what the process's own lookup gives for that name
//   (or the module's own lazy-binding stub); a module bound elsewhere (RTLD_DEEPBIND, its own
//   definition, another allocator) keeps its binding: its blocks are not ours to see.
// - RELRO pages are made writable for the one store and read-only again at once. Each
//   store is one aligned 8-byte write, so a thread calling through the slot sees the old or
//   the new function, never a torn pointer.
// - Restoring writes the old value only where the slot still holds ours, in a module that is
//   still the one we rewrote (same dynamic section): a module closed and replaced is never
//   written.
//
// The functions the probe forwards to are not read from the slots (several modules may hold
// several values): the allocator is the process's own malloc's object (host_allocator.h), the
// rest dlsym(RTLD_NEXT), which from a dlopen()ed probe searches its own dependencies, i.e.
// libc. A wrapper of, say, socket() preloaded into the host is therefore passed by.
//
// Not seen, by construction: calls through function pointers taken before the attach
// (ld.so's own __rtld_malloc, allocator tables like CRYPTO_set_mem_functions, a plugin that
// saved dlsym(RTLD_DEFAULT, "malloc")), and calls inside libc that do not go through its
// PLT. docs/guide.md says so.
#pragma once

#include <cstddef>
#include <cstdint>

namespace leakprobe::got {

// Reads the probe's own exported functions (the hooks) and what the process's lookup binds
// each name to now. `self` is any address inside the probe. Takes dlsym's locks: call it
// outside any loader callback, before the first patch. False (nothing to rewrite) if the
// probe's own symbol table cannot be read.
bool init_hooks(const void* self);

// How many hooks init_hooks found (tests, the attach line).
size_t hook_count();
// The probe's own definition of `name` (a hook), or nullptr.
void* own_function(const char* name);

struct PassResult {
  size_t modules = 0;  // modules looked at
  size_t written = 0;  // slots rewritten (patch) or put back (restore) in this pass
  size_t skipped = 0;  // slots of a hooked name bound elsewhere (left alone)
  size_t failed = 0;   // slots mprotect refused
};

// Rewrites every slot not already ours. Idempotent: the dlopen wrapper and the writer's tick
// call it again for modules loaded since. Serialise calls (the caller's mutex).
PassResult patch_all();

// Puts every remembered slot back (see the rules above) and forgets them all.
PassResult restore_all();

// Would dlopen(file) called from the probe load the same object as when called from
// `caller` (the return address of the host's dlopen call)? glibc uses the caller's object for
// the namespace, for $ORIGIN in `file`, and, for a bare name, for the RPATH/RUNPATH search.
// True when none of that can differ: no '$', the caller in the base namespace, and either a
// path with '/' or a bare name while no object in the base namespace has DT_RPATH and the
// caller has no DT_RUNPATH (the probe has neither). Lock-free lookups plus one
// dl_iterate_phdr; no allocation.
bool dlopen_caller_independent(const char* file, const void* caller);

// Slots currently remembered as rewritten.
size_t patched_slots();

// The loader's count of objects ever added (dl_phdr_info::dlpi_adds): the writer's tick
// patches again only when it moved.
unsigned long long loader_adds();

}  // namespace leakprobe::got
