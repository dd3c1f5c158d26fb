#include "leakprobe/analysis/trend.h"

#include <gtest/gtest.h>

namespace leakprobe::analysis {
namespace {

Trend c(std::vector<int64_t> s) { return classify_trend(s); }

TEST(TrendRules, SteadyGrowthIsASuspect) {
  EXPECT_EQ(c({100, 200, 300}), Trend::kGrowing);
  EXPECT_EQ(c({0, 10, 20, 30, 40, 50, 60, 70, 80}), Trend::kGrowing);
  // One flat interval out of four is still steady (3/4 of the intervals grew).
  EXPECT_EQ(c({0, 100, 200, 200, 300}), Trend::kGrowing);
  // A small dip (<= 1/4 of the net growth) is tolerated.
  EXPECT_EQ(c({0, 100, 200, 150, 300, 400}), Trend::kGrowing);
}

TEST(TrendRules, ALargeDropIsNotSteadyGrowth) {
  EXPECT_EQ(c({0, 300, 600, 100, 400, 700}), Trend::kNoise);
}

TEST(TrendRules, GrowThenFlatIsAPlateau) {
  EXPECT_EQ(c({0, 500, 1000, 1000}), Trend::kPlateau);
  EXPECT_EQ(c({0, 100, 100}), Trend::kPlateau);
  // "flat" tolerates 5% of the net growth.
  EXPECT_EQ(c({0, 600, 1000, 1010, 990, 1000, 1000}), Trend::kPlateau);
}

TEST(TrendRules, EverythingElseIsNoiseOrStable) {
  EXPECT_EQ(c({5, 5, 5, 5}), Trend::kStable);
  EXPECT_EQ(c({500, 100, 600, 200}), Trend::kNoise);
  EXPECT_EQ(c({400, 300, 200}), Trend::kNoise);  // shrinking
  EXPECT_EQ(c({0, 0, 0, 100}), Trend::kNoise);   // late jump: neither steady nor flat
  EXPECT_EQ(c({100, 200, 100}), Trend::kNoise);  // back where it started
}

TEST(TrendRules, Names) {
  EXPECT_EQ(trend_name(Trend::kGrowing), "growing");
  EXPECT_EQ(trend_name(Trend::kPlateau), "plateau");
  EXPECT_EQ(trend_name(Trend::kNoise), "noise");
  EXPECT_EQ(trend_name(Trend::kStable), "stable");
}

}  // namespace
}  // namespace leakprobe::analysis
