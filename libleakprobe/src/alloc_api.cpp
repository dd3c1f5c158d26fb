#include "alloc_api.h"

#include <cerrno>
#include <cstring>

namespace leakprobe::api {
namespace {

// Recording must leave errno exactly as the real function set it (a host may check errno
// after a successful malloc, and the unwinder or an mmap in the tables may clobber it).
class ErrnoKeeper {
 public:
  ErrnoKeeper() = default;
  ErrnoKeeper(const ErrnoKeeper&) = delete;
  ErrnoKeeper& operator=(const ErrnoKeeper&) = delete;
  ~ErrnoKeeper() { errno = saved_; }

 private:
  int saved_ = errno;
};

// Tracker::on_alloc preserves errno itself (only past the sampling decision does it call
// anything that could change it), so the common unsampled path stays free of errno traffic.
inline void* track(Tracker* t, void* p, size_t n, const WalkStart* start = nullptr) {
  if (p && t) t->on_alloc(p, n, start);
  return p;
}

// The requested size of a pool block is all we know of it; copy at most that.
void* move_out_of_pool(const RealAlloc& r, Tracker* t, void* p, size_t n) {
  void* q = malloc(r, t, n);
  if (q) {
    size_t old = pool_size(p);
    memcpy(q, p, old < n ? old : n);
  }
  return q;
}

}  // namespace

void* malloc(const RealAlloc& r, Tracker* t, size_t n, const WalkStart* start) {
  return track(t, r.malloc(n), n, start);
}

void free(const RealAlloc& r, Tracker* t, void* p) {
  if (!p || is_pool_ptr(p)) return;  // pool blocks live forever; never hand them to libc
  // on_free makes no call that can fail, so errno is untouched (POSIX 2024 asks free() to
  // preserve it).
  if (t) t->on_free(p);
  r.free(p);
}

void* calloc(const RealAlloc& r, Tracker* t, size_t n, size_t size, const WalkStart* start) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return track(t, r.calloc(n, size), total, start);
}

void* realloc(const RealAlloc& r, Tracker* t, void* p, size_t n, const WalkStart* start) {
  if (!p) return malloc(r, t, n, start);
  if (is_pool_ptr(p)) return move_out_of_pool(r, t, p, n);
  if (!t) return r.realloc(p, n);
  Tracker::ReallocTicket ticket;
  {
    ErrnoKeeper keep;
    ticket = t->realloc_begin(p);
  }
  void* q = r.realloc(p, n);
  ErrnoKeeper keep;
  t->realloc_end(ticket, p, q, n, start);
  return q;
}

void* reallocarray(const RealAlloc& r, Tracker* t, void* p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(r, t, p, total);
}

int posix_memalign(const RealAlloc& r, Tracker* t, void** out, size_t align, size_t n) {
  int rc = r.posix_memalign(out, align, n);
  if (rc == 0) track(t, *out, n);
  return rc;
}

void* aligned_alloc(const RealAlloc& r, Tracker* t, size_t align, size_t n) {
  return track(t, r.aligned_alloc(align, n), n);
}

void* memalign(const RealAlloc& r, Tracker* t, size_t align, size_t n) {
  return track(t, r.memalign(align, n), n);
}

void* valloc(const RealAlloc& r, Tracker* t, size_t n) { return track(t, r.valloc(n), n); }

void* pvalloc(const RealAlloc& r, Tracker* t, size_t n) { return track(t, r.pvalloc(n), n); }

size_t malloc_usable_size(const RealAlloc& r, void* p) {
  if (!p) return 0;
  if (is_pool_ptr(p)) return pool_size(p);
  return r.malloc_usable_size(p);
}

}  // namespace leakprobe::api
