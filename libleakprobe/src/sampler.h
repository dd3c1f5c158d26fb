// Byte-weighted Poisson sampling, as in Go's runtime and tcmalloc: sample points fall on
// the stream of allocated bytes with exponentially distributed gaps of mean N bytes, so a
// block of size s is sampled with probability 1 - exp(-s/N) and pprof's unscale factor
// (leakprobe/sampling.h) gives an unbiased estimate. An unsampled allocation costs one
// thread-local subtraction.
#pragma once

#include <cstdint>

namespace leakprobe {

class Sampler {
 public:
  explicit Sampler(uint64_t seed = 0x2545f4914f6cdd1dull) : rng_(seed ? seed : 1) {}

  // True if the allocation of `size` bytes is to be recorded.
  bool should_sample(uint64_t size, uint64_t mean_bytes) {
    if (static_cast<int64_t>(size) < left_) {
      left_ -= static_cast<int64_t>(size);
      return false;
    }
    if (left_ < 0) {  // first use on this thread: draw the first gap, then decide
      left_ = next_gap(mean_bytes);
      return should_sample(size, mean_bytes);
    }
    // The gap is memoryless, so after a sample the next one is a fresh draw.
    left_ = next_gap(mean_bytes);
    return true;
  }

  // The common case of should_sample alone, inlined into the interposed malloc: true if
  // `size` bytes are surely not sampled (and counted as such); false: ask should_sample.
  bool surely_skips(uint64_t size) {
    if (static_cast<int64_t>(size) >= left_) return false;
    left_ -= static_cast<int64_t>(size);
    return true;
  }

  int64_t next_gap(uint64_t mean_bytes);

 private:
  uint64_t next_u64();

  uint64_t rng_;
  int64_t left_ = -1;  // -1: the first allocation draws the first gap
};

namespace detail {
extern __thread Sampler* t_sampler __attribute__((tls_model("initial-exec")));
Sampler& make_thread_sampler();
}  // namespace detail

// The calling thread's sampler (initial-exec TLS, seeded per thread on first use).
inline Sampler& thread_sampler() {
  Sampler* s = detail::t_sampler;
  return __builtin_expect(s != nullptr, 1) ? *s : detail::make_thread_sampler();
}

}  // namespace leakprobe
