// What the numbers of a sampled snapshot ("@ heap_v2/<N>") mean, defined once: the probe's
// sampler draws by this rule, and heapdiff turns the recorded counts back into estimates with
// the inverse, exactly as pprof does (google/pprof profile/legacy_profile.go,
// scaleHeapSample). Header-only and libm-only, so the probe may include it.
#pragma once

#include <cmath>

namespace leakprobe::format {

// Byte-weighted Poisson sampling with a mean gap of N bytes records a block of s bytes with
// this probability.
inline double sample_probability(double block_bytes, double mean_bytes) {
  return 1.0 - std::exp(-block_bytes / mean_bytes);
}

// A stack line that recorded `objs` objects of `bytes` bytes in all is scaled by
// 1 / sample_probability(bytes / objs, N), which makes the estimate unbiased for blocks of
// one size. 1 when there is nothing to scale (no objects, or not sampled).
inline double unsample_scale(double objs, double bytes, double mean_bytes) {
  if (objs <= 0 || mean_bytes <= 0) return 1.0;
  return 1.0 / sample_probability(bytes / objs, mean_bytes);
}

}  // namespace leakprobe::format
