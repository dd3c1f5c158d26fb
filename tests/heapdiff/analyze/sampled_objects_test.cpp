// Sampled object counts carry a range as the bytes do (issue 24 item 4): one sample of a
// 10-byte block at a 512 KiB mean stands for ~52,429 objects, and printed as that alone it
// misled the guide's "objects per event" step.
#include <gtest/gtest.h>

#include "leakprobe/analysis/uncertainty.h"

namespace leakprobe::analysis {

TEST(SampledObjects, OneSampleOfASmallBlockGivesAnObjectRange) {
  UncertaintyBuilder b;
  Counts last;
  last.live_objs = 52429;
  last.live_bytes = 524290;
  last.live_samples = 1;
  b.add(Counts{}, last, 524288, false);
  const Uncertainty u = b.result(524290, 52429);
  EXPECT_EQ(u.samples, 1);
  EXPECT_LT(u.objs_low, 52429);
  EXPECT_GT(u.objs_high, 52429);
  EXPECT_LT(u.objs_low, 2000) << "one sample: 0.025 of it at the low end";
  // The same count of samples: the object range is the byte range in objects.
  EXPECT_NEAR(static_cast<double>(u.objs_high) / static_cast<double>(u.high), 0.1, 0.001);
  EXPECT_TRUE(u.few);
}

TEST(SampledObjects, ExactChangeHasAPointRange) {
  const Uncertainty u = UncertaintyBuilder().result(400, 4);
  EXPECT_EQ(u.objs_low, 4);
  EXPECT_EQ(u.objs_high, 4);
}

}  // namespace leakprobe::analysis
