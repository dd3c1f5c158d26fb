// How sure a figure from a sampled snapshot is (docs/heapdiff.md, "Sampled snapshots").
//
// The probe samples the stream of allocated bytes as a Poisson process with a mean gap of N
// bytes (leakprobe/sampling.h), so the number of samples that land in a given growth is a
// Poisson count, and every figure heapdiff shows for a sampled input is that count times the
// bytes one sample stands for. Everything here is arithmetic on those counts: exact Poisson
// intervals, what can go unseen, what the CI gate can promise.
#pragma once

#include <cstdint>
#include <vector>

#include "leakprobe/analysis/snapshot.h"

namespace leakprobe::analysis {

// Two-sided confidence of every range heapdiff prints.
inline constexpr double kConfidence = 0.95;

// An entry whose change rests on fewer samples than this (of blocks small enough that most
// are missed) is marked "few samples": below it the 95% range is wider than -50%..+80% of the
// figure.
inline constexpr int64_t kFewSamples = 10;

// The exact (Garwood) two-sided kConfidence interval for the mean of a Poisson variable
// observed as `count`: [0, 3.69] for 0, [0.025, 5.57] for 1, [4.80, 18.39] for 10.
struct PoissonInterval {
  double low = 0;
  double high = 0;
};
PoissonInterval poisson_interval(int64_t count);

// The Poisson mean at which P(X <= count) == probability (0 < probability < 1).
double poisson_mean_for_cdf(int64_t count, double probability);

// Growth (new live bytes) smaller than this gets no sample at all with probability
// 1 - kConfidence or more when sampling every `mean_bytes` on average: P(no sample in G bytes)
// = exp(-G/N), whatever the block sizes, so this is N * ln(1 / (1 - kConfidence)) ~ 3.0 N.
int64_t undetectable_below_bytes(int64_t mean_bytes);

// The smallest real growth whose estimate exceeds `threshold` in at least kConfidence of runs
// (one-sided), for blocks much smaller than `mean_bytes` (the worst case: every sample then
// stands for ~N bytes, and larger blocks are estimated more tightly).
int64_t reliably_over_threshold_bytes(int64_t threshold, int64_t mean_bytes);

// The uncertainty of one entry's change in live bytes between the first and last snapshot.
struct Uncertainty {
  int64_t samples = 0;  // samples behind the change: sum over its stacks of |Δ sampled objects|
  int64_t low = 0;      // kConfidence range of the change in live bytes
  int64_t high = 0;
  int64_t objs_low = 0;   // the same range of the change in live objects: a sample of a small
  int64_t objs_high = 0;  // block stands for many objects, as for bytes
  bool few = false;       // samples < kFewSamples, of blocks that are mostly missed
};

// Sums the stacks of one entry (their counts in the first and the last snapshot,
// Counts::live_samples included), then gives the entry's Uncertainty.
//
// The count of samples is Poisson for blocks much smaller than the sampling interval N; a
// block of s bytes is sampled with probability p = 1 - exp(-s/N), so for larger blocks the
// count is binomial and its spread shrinks by sqrt(1 - p): a block of 32 N is always sampled
// and its figure is exact. The range is therefore the Poisson interval of the count, moved
// away from the count by that factor (averaged over the entry's samples), in bytes per sample.
class UncertaintyBuilder {
 public:
  // `independent`: the snapshots come from different processes, so the blocks sampled in the
  // first are not the ones in the last and both counts vary (in one process the blocks that
  // stayed are the same samples in both, and only the change is uncertain).
  void add(const Counts& first, const Counts& last, int64_t mean_bytes, bool independent);
  // `delta_bytes`, `delta_objs`: the entry's change in (unsampled) live bytes and objects.
  Uncertainty result(int64_t delta_bytes, int64_t delta_objs = 0) const;

 private:
  int64_t samples_ = 0;
  int64_t moved_bytes_ = 0;  // the bytes the samples stand for
  int64_t moved_objs_ = 0;   // the objects they stand for
  double missed_ = 0;        // sum over samples of 1 - p (the chance a block is missed)
  bool up_ = false;
  bool down_ = false;
};

// Trend mode: `samples_per_interval` holds, per interval, the samples behind the entry's
// change in it. When they are fewer than ~3 per interval on average, an interval without
// change is what steady growth gives at least 5% of the time, so a "plateau" or "noise" verdict
// is not supported by the data.
bool too_few_samples_for_trend(const std::vector<int64_t>& samples_per_interval);

}  // namespace leakprobe::analysis
