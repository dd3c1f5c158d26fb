// The scaffold every interposer stands on, defined once: the interpose*.cpp files include it,
// and real_alloc.cpp for the allocator's next definitions. Anchor: mimalloc's
// src/alloc-override.c.
//
// - LP_EXPORT: a definition that takes the host's calls to a C library name. The probe is
//   built with hidden visibility, so only these are in its dynamic symbol table. Attach mode
//   reads that table to know which calls to rewrite (got_patch.h): a new LP_EXPORT is
//   covered there with nothing else to list.
// - next_symbol(): the function an interposer forwards to, the next definition in lookup
//   order (glibc's, or another preloaded library's), resolved with dlsym(RTLD_NEXT) on first
//   use and kept. dlsym may allocate and take locks, so the probe resolves all of them from
//   its constructor; the lazy path only serves calls made before it ran (other libraries'
//   constructors). The guard keeps what dlsym allocates out of the tables.
// - LP_NEXT_SLOT(name, type) / LP_NEXT(name): the slot that keeps `name`'s next definition,
//   and the call through it.
#pragma once

#include <dlfcn.h>

#include <atomic>

#include "guard.h"

#define LP_EXPORT extern "C" __attribute__((visibility("default")))

namespace leakprobe {

// The next definition of `name` now, or null. Callers hold the guard (dlsym may allocate).
template <class Fn>
Fn next_definition(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

template <class Fn>
Fn next_symbol(std::atomic<Fn>& slot, const char* name) {
  Fn f = slot.load(std::memory_order_acquire);
  if (__builtin_expect(f != nullptr, 1)) return f;
  Guard g;
  f = next_definition<Fn>(name);
  slot.store(f, std::memory_order_release);
  return f;
}

}  // namespace leakprobe

#define LP_NEXT_SLOT(name, type) \
  std::atomic<type> g_next_##name { nullptr }
#define LP_NEXT(name) ::leakprobe::next_symbol(g_next_##name, #name)
