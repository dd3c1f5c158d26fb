#include "leakprobe/analysis/uncertainty.h"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace leakprobe::analysis {
namespace {

// P(X <= k) for X ~ Poisson(mean), summed in log space (k is at most kExactLimit here).
double poisson_cdf(int64_t k, double mean) {
  if (k < 0) return 0;
  if (mean <= 0) return 1;
  const double log_mean = std::log(mean);
  double sum = 0;
  for (int64_t j = 0; j <= k; ++j) {
    sum += std::exp(static_cast<double>(j) * log_mean - mean -
                    std::lgamma(static_cast<double>(j) + 1));
  }
  return sum > 1 ? 1 : sum;
}

// Counts above this use the Wilson-Hilferty approximation of the same quantile, which is
// within 0.1% of the exact value there; below it the exact sum is cheap.
constexpr int64_t kExactLimit = 2000;

// Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9).
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double low = 0.02425;
  if (p < low) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normal_quantile(1 - p);
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

int64_t to_bytes(double v) {
  if (!(v < 9.2e18)) return std::numeric_limits<int64_t>::max();
  if (!(v > -9.2e18)) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(std::llround(v));
}

}  // namespace

double poisson_mean_for_cdf(int64_t count, double probability) {
  if (count < 0) return 0;
  if (count > kExactLimit) {
    // P(X <= k) = P(Gamma(k+1) > mean): the Gamma(k+1) quantile at 1 - probability.
    const double k1 = static_cast<double>(count) + 1;
    const double z = normal_quantile(1 - probability);
    const double t = 1 - 1 / (9 * k1) + z / (3 * std::sqrt(k1));
    return k1 * t * t * t;
  }
  // P(X <= count) falls as the mean grows: bisect.
  double lo = 0,
         hi = static_cast<double>(count) + 10 + 10 * std::sqrt(static_cast<double>(count) + 1);
  for (int i = 0; i < 100 && hi - lo > 1e-9 * (1 + hi); ++i) {
    const double mid = (lo + hi) / 2;
    if (poisson_cdf(count, mid) > probability) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return (lo + hi) / 2;
}

PoissonInterval poisson_interval(int64_t count) {
  const double tail = (1 - kConfidence) / 2;
  PoissonInterval out;
  out.low = count <= 0 ? 0 : poisson_mean_for_cdf(count - 1, 1 - tail);
  out.high = poisson_mean_for_cdf(count < 0 ? 0 : count, tail);
  return out;
}

int64_t undetectable_below_bytes(int64_t mean_bytes) {
  if (mean_bytes <= 1) return 0;
  return to_bytes(std::ceil(static_cast<double>(mean_bytes) * std::log(1 / (1 - kConfidence))));
}

int64_t reliably_over_threshold_bytes(int64_t threshold, int64_t mean_bytes) {
  if (mean_bytes <= 1) return threshold;
  // The estimate is (samples) x ~N: it exceeds the threshold once samples > threshold / N.
  const int64_t needed = threshold / mean_bytes + 1;
  const double mean = poisson_mean_for_cdf(needed - 1, 1 - kConfidence);
  return to_bytes(std::ceil(mean * static_cast<double>(mean_bytes)));
}

void UncertaintyBuilder::add(const Counts& first, const Counts& last, int64_t mean_bytes,
                             bool independent) {
  const Counts d = last - first;
  int64_t samples = std::llabs(d.live_samples);
  int64_t bytes = std::llabs(d.live_bytes);  // what those samples stand for
  int64_t objects = std::llabs(d.live_objs);
  if (independent && first.live_samples > 0) {
    samples = first.live_samples + last.live_samples;
    bytes = first.live_bytes + last.live_bytes;
    objects = first.live_objs + last.live_objs;
    up_ = down_ = true;  // two uncertain counts: the two-sided (normal) range below
  }
  // A stack whose bytes moved with no net change in its sample count (one sampled block
  // replaced by another of a different size) still rests on at least one sample.
  if (samples == 0 && d.live_bytes != 0) samples = 1;
  samples_ += samples;
  moved_bytes_ += bytes;
  moved_objs_ += objects;
  if (d.live_bytes > 0) up_ = true;
  if (d.live_bytes < 0) down_ = true;
  // The blocks' mean size from the estimates (both scaled alike, so their ratio is the
  // recorded one).
  const Counts& sized = d.live_objs != 0 ? d : last;
  const double objs = static_cast<double>(std::llabs(sized.live_objs));
  const double size = objs > 0 ? static_cast<double>(std::llabs(sized.live_bytes)) / objs : 0;
  const double missed = mean_bytes > 0 ? std::exp(-size / static_cast<double>(mean_bytes)) : 0;
  missed_ += static_cast<double>(samples) * missed;
}

Uncertainty UncertaintyBuilder::result(int64_t delta_bytes, int64_t delta_objs) const {
  Uncertainty u;
  u.samples = samples_;
  if (samples_ == 0) {
    u.low = u.high = delta_bytes;
    u.objs_low = u.objs_high = delta_objs;
    return u;
  }
  const double k = static_cast<double>(samples_);
  // Mean chance that a block was missed; its root scales the spread (binomial vs Poisson).
  const double missed = missed_ / k;
  const double shrink = std::sqrt(missed);
  // Blocks missed less than a quarter of the time are counted nearly exactly, however few.
  u.few = samples_ < kFewSamples && missed > 0.25;
  // The same count of samples gives the range of the bytes and of the objects, each at what
  // one sample stands for on average over the entry's stacks.
  auto range = [&](double per_sample, int64_t delta, int64_t& low_out, int64_t& high_out) {
    if (up_ != down_) {
      // One direction (a leak, or memory given back): the change is a count of samples.
      const PoissonInterval i = poisson_interval(samples_);
      const double low = (k - (k - i.low) * shrink) * per_sample;
      const double high = (k + (i.high - k) * shrink) * per_sample;
      if (up_) {
        low_out = to_bytes(low);
        high_out = to_bytes(high);
      } else {
        low_out = to_bytes(-high);
        high_out = to_bytes(-low);
      }
    } else {
      // Stacks moved both ways: the difference of two counts, whose variance is the sum of
      // theirs (normal approximation).
      const double z = normal_quantile(1 - (1 - kConfidence) / 2);
      const double half = z * std::sqrt(k) * shrink * per_sample;
      low_out = to_bytes(static_cast<double>(delta) - half);
      high_out = to_bytes(static_cast<double>(delta) + half);
    }
  };
  range(static_cast<double>(moved_bytes_) / k, delta_bytes, u.low, u.high);
  range(static_cast<double>(moved_objs_) / k, delta_objs, u.objs_low, u.objs_high);
  return u;
}

bool too_few_samples_for_trend(const std::vector<int64_t>& samples_per_interval) {
  if (samples_per_interval.empty()) return false;
  int64_t sum = 0;
  for (int64_t s : samples_per_interval) sum += std::llabs(s);
  const double per_interval =
      static_cast<double>(sum) / static_cast<double>(samples_per_interval.size());
  return per_interval < std::log(1 / (1 - kConfidence));
}

}  // namespace leakprobe::analysis
