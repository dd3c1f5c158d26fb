// The function an interposer forwards to: the next definition in lookup order (glibc's, or
// another preloaded library's), resolved with dlsym(RTLD_NEXT) on first use and kept. dlsym
// may allocate and take locks, so the probe resolves all of them from its constructor; the
// lazy path only serves calls made before it ran (other libraries' constructors).
#pragma once

#include <dlfcn.h>

#include <atomic>

#include "guard.h"

namespace leakprobe {

template <class Fn>
Fn next_symbol(std::atomic<Fn>& slot, const char* name) {
  Fn f = slot.load(std::memory_order_acquire);
  if (__builtin_expect(f != nullptr, 1)) return f;
  Guard g;
  f = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
  slot.store(f, std::memory_order_release);
  return f;
}

}  // namespace leakprobe
