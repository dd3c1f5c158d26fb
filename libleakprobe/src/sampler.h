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
  // The per-thread sampler (initial-exec TLS, no constructor to run): seeded at first use.
  constexpr Sampler() = default;
  explicit Sampler(uint64_t seed) : rng_(seed ? seed : 1) {}

  // True if the allocation of `size` bytes is to be recorded.
  bool should_sample(uint64_t size, uint64_t mean_bytes) {
    if (static_cast<int64_t>(size) < left_) {
      left_ -= static_cast<int64_t>(size);
      return false;
    }
    if (left_ < 0) {  // first use on this thread: draw the first gap, then decide
      if (!rng_) seed_from_clock();
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
  void seed_from_clock();

  uint64_t rng_ = 0;   // 0: not seeded yet (the per-thread sampler)
  int64_t left_ = -1;  // -1: the first allocation draws the first gap
};

namespace detail {
// The object itself in TLS, not a pointer to it: the interposed malloc's sampled fast path
// reaches it with one TLS address load fewer and no null test.
extern __thread Sampler t_sampler __attribute__((tls_model("initial-exec")));
}  // namespace detail

// The calling thread's sampler (initial-exec TLS, seeded per thread on first use).
inline Sampler& thread_sampler() { return detail::t_sampler; }

}  // namespace leakprobe
