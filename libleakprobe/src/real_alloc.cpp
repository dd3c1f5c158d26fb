#include "real_alloc.h"

#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "forwarding.h"
#include "host_allocator.h"
#include "interposer.h"
#include "log.h"

namespace leakprobe {

namespace detail {
RealAlloc g_real;
std::atomic<int> g_real_state{0};
std::atomic<uint8_t> g_forward_bits{kRealNotReady};
std::atomic<uint16_t>* g_sample_filter = nullptr;
// dlsym needs well under 1 KiB on glibc 2.36 (the dlerror buffer); 64 KiB leaves room for a
// different libc without costing anything but BSS.
alignas(64) char g_pool[kPoolSize];
}  // namespace detail

namespace {

using detail::g_real;
using detail::g_real_state;

using detail::g_pool;
using detail::kPoolSize;
std::atomic<size_t> g_pool_used{0};

struct PoolHeader {
  size_t size;
  size_t pad;
};

template <typename F>
void resolve(F& slot, const char* name) {
  slot = next_definition<F>(name);
}

void resolve_each(RealAlloc* r) {
  resolve(r->malloc, "malloc");
  resolve(r->free, "free");
  resolve(r->calloc, "calloc");
  resolve(r->realloc, "realloc");
  resolve(r->posix_memalign, "posix_memalign");
  resolve(r->aligned_alloc, "aligned_alloc");
  resolve(r->memalign, "memalign");
  resolve(r->valloc, "valloc");
  resolve(r->pvalloc, "pvalloc");
  resolve(r->malloc_usable_size, "malloc_usable_size");
}

[[noreturn]] void die(const char* what) {
  log_line("cannot resolve the real ", what, "; aborting");
  _exit(127);
}

}  // namespace

void* pool_alloc(size_t size, size_t align) {
  if (align < 16) align = 16;
  size_t old = g_pool_used.load(std::memory_order_relaxed);
  for (;;) {
    size_t start = (old + sizeof(PoolHeader) + align - 1) & ~(align - 1);
    size_t end = start + size;
    if (end > kPoolSize || end < start) {
      // Running out here means dlsym allocates far more than expected; nothing sensible is
      // left to do before we even have an allocator.
      log_line("bootstrap pool exhausted while resolving the real allocator; aborting");
      _exit(127);
    }
    if (g_pool_used.compare_exchange_weak(old, end, std::memory_order_relaxed)) {
      // Before the block exists for anyone: a free of it must look at the pool (forwarding.h).
      if (old == 0) forward_bits_set(kPoolUsed);
      auto* h = reinterpret_cast<PoolHeader*>(g_pool + start - sizeof(PoolHeader));
      h->size = size;
      return g_pool + start;  // static storage: already zero
    }
  }
}

size_t pool_size(const void* p) {
  return reinterpret_cast<const PoolHeader*>(static_cast<const char*>(p) - sizeof(PoolHeader))
      ->size;
}

const RealAlloc& detail::resolve_real_alloc() {
  if (g_real_state.load(std::memory_order_acquire) == 2) return g_real;
  int expected = 0;
  if (g_real_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    RealAlloc r{};
    // Normally every function from one allocator object (host_allocator.h). Failing that (no
    // link map to read), each name's next definition, as a plain interposer would.
    if (!resolve_host_allocator(&r)) {
      log_line(
          "cannot tell which allocator the program uses; forwarding each function to "
          "its next definition");
      resolve_each(&r);
    }
    if (!r.malloc || !r.free || !r.calloc || !r.realloc) die("malloc/free/calloc/realloc");
    g_real = r;
    g_real_state.store(2, std::memory_order_release);
    forward_bits_clear(kRealNotReady);
    return g_real;
  }
  // Another thread is resolving: wait for it (dlsym is short). The resolving thread itself
  // never gets here, because its re-entrant calls are sent to the pool by the caller.
  while (g_real_state.load(std::memory_order_acquire) != 2) sched_yield();
  return g_real;
}

}  // namespace leakprobe
