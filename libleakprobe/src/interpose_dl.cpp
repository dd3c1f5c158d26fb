// dlclose: unloading a module can put other code at its addresses later, so the frame rules
// compiled for them become stale (rule_cache.h). The real dlclose runs first; rules looked up
// concurrently are for code that is still on some stack, hence still loaded.
#include <dlfcn.h>

#include <atomic>

#include "guard.h"
#include "rule_cache.h"

#define LP_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using dlclose_fn = int (*)(void*);
std::atomic<dlclose_fn> g_next_dlclose{nullptr};

dlclose_fn next_dlclose() {
  dlclose_fn f = g_next_dlclose.load(std::memory_order_acquire);
  if (!f) {
    leakprobe::Guard g;  // dlsym may allocate
    f = reinterpret_cast<dlclose_fn>(dlsym(RTLD_NEXT, "dlclose"));
    g_next_dlclose.store(f, std::memory_order_release);
  }
  return f;
}

__attribute__((constructor)) void resolve_dlclose() { next_dlclose(); }

}  // namespace

LP_EXPORT int dlclose(void* handle) {
  dlclose_fn real = next_dlclose();
  if (!real) return -1;
  int rc = real(handle);
  leakprobe::rule_cache_invalidate();
  return rc;
}
