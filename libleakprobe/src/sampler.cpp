#include "sampler.h"

#include <cmath>
#include <ctime>

namespace leakprobe {
namespace detail {
__thread Sampler t_sampler __attribute__((tls_model("initial-exec")));
}  // namespace detail

uint64_t Sampler::next_u64() {
  // xorshift64*: fast, no state beyond one word, good enough for sample gaps.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 2685821657736338717ull;
}

int64_t Sampler::next_gap(uint64_t mean_bytes) {
  // Uniform in (0, 1], 53 bits; -ln(u) * mean is exponential with that mean.
  double u = static_cast<double>((next_u64() >> 11) + 1) * (1.0 / 9007199254740992.0);
  double gap = -std::log(u) * static_cast<double>(mean_bytes);
  if (gap > 9.0e18) gap = 9.0e18;
  // At least 1 so that a zero-byte allocation after a sample is not sampled again.
  return static_cast<int64_t>(gap) + 1;
}

void Sampler::seed_from_clock() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t seed =
      static_cast<uint64_t>(ts.tv_nsec) * 0x9e3779b97f4a7c15ull ^ reinterpret_cast<uintptr_t>(this);
  rng_ = seed ? seed : 1;
}

}  // namespace leakprobe
