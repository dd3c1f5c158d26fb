// The one recursion guard. Every interposed entry point takes it; while it is held, the
// allocation functions only forward to the real allocator. The probe's own thread holds it
// for its whole life, and anything the probe calls (dl_iterate_phdr, pthread_create, the
// libunwind of the verification mode) may allocate, so those allocations are never tracked
// and never recurse.
//
// initial-exec TLS: a general-dynamic TLS access can itself call malloc (lazy DTV setup),
// which would recurse before the guard is even read.
#pragma once

namespace leakprobe {

extern __thread bool t_in_probe __attribute__((tls_model("initial-exec")));

inline bool guard_held() { return t_in_probe; }

class Guard {
 public:
  Guard() : was_held_(t_in_probe) { t_in_probe = true; }
  ~Guard() { t_in_probe = was_held_; }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  bool was_held_;
};

}  // namespace leakprobe
