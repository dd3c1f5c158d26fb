// The interposed allocation API: extern "C" symbols only. Each one picks the real
// allocator (or the bootstrap pool while dlsym is still resolving it), takes the recursion
// guard and forwards to alloc_api, where the semantics live.
#include <cerrno>
#include <cstddef>

#include "alloc_api.h"
#include "forwarding.h"
#include "guard.h"
#include "interposer.h"
#include "real_alloc.h"
#include "sampler.h"
#include "tracker.h"
#include "unwind.h"

namespace {

using leakprobe::Guard;
using leakprobe::RealAlloc;
using leakprobe::Tracker;
using leakprobe::walk_start_here;
using leakprobe::WalkStart;

// The real allocator, or nullptr while this thread is inside dlsym resolving it (then the
// caller serves the request from the bootstrap pool).
inline const RealAlloc* real_or_pool() {
  if (__builtin_expect(leakprobe::real_alloc_ready(), 1)) return &leakprobe::real_alloc();
  if (leakprobe::guard_held()) return nullptr;
  Guard g;
  return &leakprobe::real_alloc();
}

// Calls made while the guard is held (by the probe itself, or by anything the probe
// calls) are forwarded without being recorded.
inline Tracker* recorder() {
  return leakprobe::guard_held() ? nullptr : leakprobe::active_tracker();
}

void* pool_array(size_t n, size_t size, size_t align = 16) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return leakprobe::pool_alloc(total, align);
}

}  // namespace

namespace api = leakprobe::api;

// malloc and free, the calls a dormant probe (LEAKPROBE_ENABLED=0, or after `leakprobe
// disable`) sees most, go straight to the real allocator when there is nothing to record:
// one byte says so (forwarding.h). The full paths are out of line, so that test compiles to
// a load, a test and a jump with no register saved first (inlined, gcc saved six registers
// before it: ~20 instructions a dormant call).
namespace {

__attribute__((noinline)) void* malloc_slow(size_t n, const WalkStart* start) {
  const RealAlloc* r = real_or_pool();
  if (!r) return leakprobe::pool_alloc(n);
  Tracker* t = recorder();
  if (!t || !t->recording()) return r->malloc(n);
  // Sampled mode: most calls are not sampled and need neither the guard nor alloc_api.
  if (t->skips(n)) return r->malloc(n);
  Guard g;
  void* p = r->malloc(n);
  t->record_decided(p, n, start);
  return p;
}

__attribute__((noinline)) void free_slow(void* p) {
  const RealAlloc* r = real_or_pool();
  if (!r) return;  // only pool blocks can exist before the real free is known
  Tracker* t = recorder();
  // Never recorded anything, or (sampled mode) nothing on this block's page: forward.
  if (!t || !p || !t->may_be_recorded(p)) {
    // Pool blocks live forever; never hand them to libc (api::free's first rule).
    if (p && !leakprobe::is_pool_ptr(p)) r->free(p);
    return;
  }
  Guard g;
  api::free(*r, t, p);
}

}  // namespace

LP_EXPORT void* malloc(size_t n) {
  using namespace leakprobe;
  const uint8_t bits = detail::g_forward_bits.load(std::memory_order_acquire);
  if (__builtin_expect((bits & (kRealNotReady | kRecording)) == 0, 1))
    return detail::g_real.malloc(n);
  // Sampled mode: an unsampled block costs a thread-local subtraction more than forwarding.
  if ((bits & ~kPoolUsed) == (kSampled | kRecording | kEverRecorded) &&
      detail::t_sampler.surely_skips(n))
    return detail::g_real.malloc(n);
  // The stack walk starts in this frame (kept until malloc_slow returns: `s` lives in it),
  // not in the capture's, so the probe's frames in between are never stepped through.
  WalkStart s;
  walk_start_here(&s);
  return malloc_slow(n, &s);
}

LP_EXPORT void free(void* p) {
  using namespace leakprobe;
  const uint8_t bits = detail::g_forward_bits.load(std::memory_order_acquire);
  // Nothing recorded and no pool block ever handed out (the dormant probe's every free):
  // only forward.
  if (__builtin_expect((bits & (kRealNotReady | kEverRecorded | kPoolUsed)) == 0, 1))
    return detail::g_real.free(p);
  // Sampled mode, no sampled block live on p's page (nearly every free): only forward. Tested
  // second and on its own, so that this path too is a few instructions.
  if ((bits & (kSampled | kRealNotReady | kPoolUsed)) == kSampled &&
      detail::g_sample_filter[sample_filter_index(p)].load(std::memory_order_relaxed) == 0)
    return detail::g_real.free(p);
  // The same two cases once a pool block exists: forward, but never a pool block.
  if ((bits & (kRealNotReady | kEverRecorded)) == 0 ||
      ((bits & (kSampled | kRealNotReady)) == kSampled &&
       detail::g_sample_filter[sample_filter_index(p)].load(std::memory_order_relaxed) == 0)) {
    // Pool blocks live forever; never hand them to libc (api::free's first rule).
    if (!is_pool_ptr(p)) detail::g_real.free(p);
    return;
  }
  free_slow(p);
}

LP_EXPORT void* calloc(size_t n, size_t size) {
  const RealAlloc* r = real_or_pool();
  if (!r) return pool_array(n, size);
  Tracker* t = recorder();
  Guard g;
  WalkStart s;  // see malloc
  walk_start_here(&s);
  return api::calloc(*r, t, n, size, &s);
}

LP_EXPORT void* realloc(void* p, size_t n) {
  const RealAlloc* r = real_or_pool();
  if (!r) {
    void* q = leakprobe::pool_alloc(n);
    if (p && q) {
      size_t old = leakprobe::pool_size(p);
      __builtin_memcpy(q, p, old < n ? old : n);
    }
    return q;
  }
  Tracker* t = recorder();
  Guard g;
  WalkStart s;  // see malloc
  walk_start_here(&s);
  return api::realloc(*r, t, p, n, &s);
}

LP_EXPORT void* reallocarray(void* p, size_t n, size_t size) {
  const RealAlloc* r = real_or_pool();
  if (!r) {
    void* q = pool_array(n, size);
    if (p && q) {
      size_t old = leakprobe::pool_size(p);
      __builtin_memcpy(q, p, old < n * size ? old : n * size);
    }
    return q;
  }
  Tracker* t = recorder();
  Guard g;
  return api::reallocarray(*r, t, p, n, size);
}

LP_EXPORT int posix_memalign(void** out, size_t align, size_t n) {
  const RealAlloc* r = real_or_pool();
  if (!r) {
    *out = leakprobe::pool_alloc(n, align);
    return 0;
  }
  Tracker* t = recorder();
  Guard g;
  return api::posix_memalign(*r, t, out, align, n);
}

LP_EXPORT void* aligned_alloc(size_t align, size_t n) {
  const RealAlloc* r = real_or_pool();
  if (!r) return leakprobe::pool_alloc(n, align);
  Tracker* t = recorder();
  Guard g;
  return api::aligned_alloc(*r, t, align, n);
}

LP_EXPORT void* memalign(size_t align, size_t n) {
  const RealAlloc* r = real_or_pool();
  if (!r) return leakprobe::pool_alloc(n, align);
  Tracker* t = recorder();
  Guard g;
  return api::memalign(*r, t, align, n);
}

LP_EXPORT void* valloc(size_t n) {
  const RealAlloc* r = real_or_pool();
  if (!r) return leakprobe::pool_alloc(n, 4096);
  Tracker* t = recorder();
  Guard g;
  return api::valloc(*r, t, n);
}

LP_EXPORT void* pvalloc(size_t n) {
  const RealAlloc* r = real_or_pool();
  if (!r) return leakprobe::pool_alloc((n + 4095) & ~size_t{4095}, 4096);
  Tracker* t = recorder();
  Guard g;
  return api::pvalloc(*r, t, n);
}

LP_EXPORT size_t malloc_usable_size(void* p) {
  const RealAlloc* r = real_or_pool();
  if (!r) return p ? leakprobe::pool_size(p) : 0;
  return api::malloc_usable_size(*r, p);
}
