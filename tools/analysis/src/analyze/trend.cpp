#include "leakprobe/analysis/trend.h"

#include <algorithm>
#include <cstdlib>

namespace leakprobe::analysis {

std::string_view trend_name(Trend t) {
  switch (t) {
    case Trend::kGrowing:
      return "growing";
    case Trend::kPlateau:
      return "plateau";
    case Trend::kNoise:
      return "noise";
    case Trend::kStable:
      return "stable";
    case Trend::kTooFewSamples:
      return "too few samples";
  }
  return "noise";
}

Trend classify_trend(const std::vector<int64_t>& series) {
  if (series.size() < 2) return Trend::kStable;
  const size_t intervals = series.size() - 1;
  std::vector<int64_t> d(intervals);
  for (size_t i = 0; i < intervals; ++i) d[i] = series[i + 1] - series[i];
  if (std::all_of(d.begin(), d.end(), [](int64_t x) { return x == 0; })) return Trend::kStable;

  const int64_t growth = series.back() - series.front();
  if (growth <= 0) return Trend::kNoise;

  // Steady growth: up in at least 3/4 of the intervals (rounded up), and no interval gave
  // back more than a quarter of the net growth. A leak grows with the traffic; a cache or
  // a pool that is trimmed now and then shows large drops.
  const size_t ups =
      static_cast<size_t>(std::count_if(d.begin(), d.end(), [](int64_t x) { return x > 0; }));
  const int64_t largest_drop = std::max<int64_t>(0, -*std::min_element(d.begin(), d.end()));
  if (ups * 4 >= intervals * 3 && largest_drop * 4 <= growth) return Trend::kGrowing;

  // Grew, then plateaued: the last third of the intervals (at least one) are flat, within
  // 5% of the net growth, and the growth happened before them.
  const size_t tail = std::max<size_t>(1, intervals / 3);
  const int64_t tolerance = growth / 20;
  const bool flat_tail = std::all_of(d.end() - static_cast<std::ptrdiff_t>(tail), d.end(),
                                     [&](int64_t x) { return std::llabs(x) <= tolerance; });
  int64_t head_growth = 0;
  for (size_t i = 0; i + tail < intervals; ++i) head_growth += d[i];
  if (flat_tail && head_growth > 0) return Trend::kPlateau;
  return Trend::kNoise;
}

int trend_rank(Trend t) {
  switch (t) {
    case Trend::kGrowing:
      return 0;
    case Trend::kTooFewSamples:  // may well be a leak: before the verdicts that say it is not
      return 1;
    case Trend::kPlateau:
      return 2;
    case Trend::kNoise:
      return 3;
    case Trend::kStable:
      return 4;
  }
  return 4;
}

}  // namespace leakprobe::analysis
