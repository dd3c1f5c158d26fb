// Classifies one stack's series of live sizes over N >= 3 snapshots (docs/heapdiff.md,
// "Trend rules"). Pure arithmetic on the series, so the rules are unit-tested on synthetic
// numbers.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace leakprobe::analysis {

enum class Trend {
  kGrowing,  // steady growth: the leak suspect
  kPlateau,  // grew, then flat in the last intervals (a cache filling up)
  kNoise,    // up and down, or shrinking
  kStable,   // never changed
  // Sampled inputs: the series would read as plateau or noise, but its intervals rest on so
  // few samples that steady growth looks the same (too_few_samples_for_trend). Set by the
  // analysis, never by classify_trend.
  kTooFewSamples,
};

std::string_view trend_name(Trend t);

// Order of the verdicts in a ranking, suspects first (0: growing).
int trend_rank(Trend t);

// `series` holds one value per snapshot, in time order.
Trend classify_trend(const std::vector<int64_t>& series);

}  // namespace leakprobe::analysis
