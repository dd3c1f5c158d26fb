// Sampled figures and their uncertainty: the interval arithmetic against known values, and the
// whole chain (the probe's own Sampler with fixed seeds -> raw counts in a stack line ->
// pprof's unsampling -> the entry's range) against the truth, run after run. Also the trend
// verdict on few samples, and the rows an unnamed function and look-alike sites produce.
#include "leakprobe/analysis/uncertainty.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/parser.h"
#include "leakprobe/analysis/report.h"
#include "sampler.h"  // libleakprobe/src: the sampler the probe runs
#include "test_snapshots.h"

namespace leakprobe::analysis {
namespace {

using testing::leakprobe_text;
using testing::Line;
using testing::must_parse;

TEST(PoissonInterval, MatchesTheExactGarwoodValues) {
  // Published 95% limits (e.g. Ulm 1990; R's poisson.test).
  const struct {
    int64_t k;
    double low, high;
  } known[] = {{0, 0, 3.6889},       {1, 0.0253, 5.5716},   {2, 0.2422, 7.2247},
               {5, 1.6235, 11.6683}, {10, 4.7954, 18.3904}, {100, 81.3634, 121.6294}};
  for (const auto& c : known) {
    const PoissonInterval i = poisson_interval(c.k);
    EXPECT_NEAR(i.low, c.low, 1e-3 * (1 + c.low)) << c.k;
    EXPECT_NEAR(i.high, c.high, 1e-3 * (1 + c.high)) << c.k;
  }
  // The approximation used for large counts joins the exact sum smoothly.
  const PoissonInterval exact = poisson_interval(2000), approx = poisson_interval(2001);
  EXPECT_NEAR(approx.low - exact.low, 1.0, 0.05);
  EXPECT_NEAR(approx.high - exact.high, 1.0, 0.05);
}

TEST(Undetectable, IsWhereNoSampleHasAFivePercentChance) {
  // exp(-G/N) = 0.05 at G = N ln 20.
  EXPECT_EQ(undetectable_below_bytes(524288), 1570627);
  EXPECT_NEAR(std::exp(-static_cast<double>(undetectable_below_bytes(8192)) / 8192), 0.05, 1e-4);
  EXPECT_EQ(undetectable_below_bytes(0), 0);
}

TEST(Gate, SampledPromiseIsAboveTheThresholdAndGrowsWithTheRate) {
  const int64_t t = 1 << 20;
  const int64_t fine = reliably_over_threshold_bytes(t, 4096);
  const int64_t coarse = reliably_over_threshold_bytes(t, 524288);
  EXPECT_GT(fine, t);
  EXPECT_GT(coarse, fine);
  // At 512 KiB per sample the estimate moves in steps of ~512 KiB: 1 MiB is passed for sure
  // only with 3 samples, which a growth needs ~6.3 N to give in 95% of runs.
  EXPECT_NEAR(static_cast<double>(coarse) / 524288, 6.30, 0.05);
}

// One stack line as the probe writes it in sampled mode, unsampled as heapdiff reads it.
Counts sampled_counts(int64_t samples, int64_t block, int64_t rate) {
  Counts c;
  c.live_objs = samples;
  c.live_bytes = samples * block;
  unsample(c.live_objs, c.live_bytes, rate);
  c.live_samples = samples;
  return c;
}

struct Coverage {
  int runs = 0, covered = 0, listed = 0;
};

// `runs` programs that each leak `n` blocks of every size in `sizes` (interleaved, as a
// program's allocations are), sampled by the probe's Sampler seeded 1..runs.
std::map<int64_t, Coverage> simulate(int64_t rate, const std::vector<int64_t>& sizes, int64_t n,
                                     int runs) {
  std::map<int64_t, Coverage> out;
  for (int run = 1; run <= runs; ++run) {
    Sampler sampler(static_cast<uint64_t>(run) * 0x9e3779b97f4a7c15ull);
    std::map<int64_t, int64_t> samples;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t size : sizes) {
        if (sampler.should_sample(static_cast<uint64_t>(size), static_cast<uint64_t>(rate))) {
          ++samples[size];
        }
      }
    }
    for (int64_t size : sizes) {
      Coverage& c = out[size];
      ++c.runs;
      if (samples[size] == 0) continue;  // not listed: nothing grew in the samples
      ++c.listed;
      UncertaintyBuilder b;
      const Counts last = sampled_counts(samples[size], size, rate);
      b.add(Counts{}, last, rate, false);
      const Uncertainty u = b.result(last.live_bytes);
      EXPECT_EQ(u.samples, samples[size]);
      EXPECT_LE(u.low, last.live_bytes);
      EXPECT_GE(u.high, last.live_bytes);
      if (u.low <= n * size && n * size <= u.high) ++c.covered;
    }
  }
  return out;
}

TEST(SampledRange, HoldsTheTruthInTheLargeMajorityOfRunsAtSeveralRates) {
  // 200 deterministic runs per rate; blocks from far below to far above the interval.
  const std::vector<int64_t> sizes = {43, 1111, 4444, 40000, 300000};
  for (int64_t rate : {1024, 8192, 65536}) {
    const auto coverage = simulate(rate, sizes, 1000, 200);
    for (const auto& [size, c] : coverage) {
      SCOPED_TRACE("rate " + std::to_string(rate) + ", " + std::to_string(size) + "-byte blocks");
      ASSERT_GT(c.listed, 0);
      const double share = static_cast<double>(c.covered) / c.listed;
      // Nominal 95%; a block that is always sampled is counted exactly.
      EXPECT_GE(share, 0.90) << c.covered << " of " << c.listed;
      std::printf("rate %6lld  block %6lld  listed %3d/%d  range held the truth in %5.1f%%\n",
                  static_cast<long long>(rate), static_cast<long long>(size), c.listed, c.runs,
                  100 * share);
    }
  }
}

TEST(SampledRange, AlwaysSampledBlocksAreExactAndNotFew) {
  // 32 N: sampled with probability 1 - e^-32.
  UncertaintyBuilder b;
  const Counts last = sampled_counts(3, 32 * 8192, 8192);
  b.add(Counts{}, last, 8192, false);
  const Uncertainty u = b.result(last.live_bytes);
  EXPECT_EQ(u.low, last.live_bytes);
  EXPECT_EQ(u.high, last.live_bytes);
  EXPECT_FALSE(u.few);
}

TEST(SampledRange, OneSmallSampleIsFewAndWide) {
  // The case: one 42-byte sample at 512 KiB stands for ~512 KiB.
  UncertaintyBuilder b;
  const Counts last = sampled_counts(1, 42, 524288);
  b.add(Counts{}, last, 524288, false);
  const Uncertainty u = b.result(last.live_bytes);
  EXPECT_TRUE(u.few);
  EXPECT_EQ(u.samples, 1);
  EXPECT_LT(u.low, last.live_bytes / 20);
  EXPECT_GT(u.high, last.live_bytes * 5);
}

TEST(SampledRange, SnapshotsOfTwoProcessesCountBothSides) {
  // The same stack in two runs: the first run's samples are not the second's.
  UncertaintyBuilder same, independent;
  const Counts first = sampled_counts(100, 100, 8192), last = sampled_counts(150, 100, 8192);
  same.add(first, last, 8192, false);
  independent.add(first, last, 8192, true);
  const int64_t d = last.live_bytes - first.live_bytes;
  EXPECT_EQ(same.result(d).samples, 50);
  EXPECT_EQ(independent.result(d).samples, 250);
  EXPECT_GT(independent.result(d).high - independent.result(d).low,
            same.result(d).high - same.result(d).low);
}

// Snapshots sampled every 65536 bytes with one stack that grows by one 64-byte sample in some
// intervals only: plateau/noise by the numbers, too few samples in truth.
std::string sampled_text(int64_t samples, double time) {
  std::string t =
      leakprobe_text({Line{samples, samples * 64, samples, samples * 64, {0x1101}}}, 0x555500000000,
                     "/opt/t/app", 100, "# leakprobe.time: " + std::to_string(time) + "\n");
  t.replace(t.find("@ heapprofile"), 13, "@ heap_v2/65536");
  return t;
}

TEST(Trend, FewSamplesSayTooFewSamplesInsteadOfPlateauOrNoise) {
  std::vector<Snapshot> snaps;
  const int64_t samples[] = {1, 2, 3, 3, 3, 3};  // "grew, then flat"
  for (int i = 0; i < 6; ++i) snaps.push_back(must_parse(sampled_text(samples[i], 1000 + i)));
  std::vector<const Snapshot*> ptrs;
  for (const Snapshot& s : snaps) ptrs.push_back(&s);
  Result<Analysis> r = analyze(ptrs, {}, Options{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r.value().entries.size(), 1u);
  EXPECT_EQ(r.value().entries[0].trend, Trend::kTooFewSamples);
  EXPECT_EQ(trend_name(r.value().entries[0].trend), "too few samples");
  ASSERT_TRUE(r.value().entries[0].sampled);
  EXPECT_EQ(r.value().entries[0].sampled->samples, 2);
  EXPECT_TRUE(r.value().entries[0].sampled->few);
  EXPECT_EQ(r.value().undetectable_below_bytes, undetectable_below_bytes(65536));
}

TEST(Trend, ManySamplesKeepThePlateauVerdict) {
  std::vector<Snapshot> snaps;
  const int64_t samples[] = {100, 200, 300, 300, 300, 300};
  for (int i = 0; i < 6; ++i) snaps.push_back(must_parse(sampled_text(samples[i], 1000 + i)));
  std::vector<const Snapshot*> ptrs;
  for (const Snapshot& s : snaps) ptrs.push_back(&s);
  Result<Analysis> r = analyze(ptrs, {}, Options{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r.value().entries.size(), 1u);
  EXPECT_EQ(r.value().entries[0].trend, Trend::kPlateau);
}

// Every writer shows what the analysis decided: the unnamed label with its caller, the offset
// that tells two rows apart, and for sampled inputs the range, the samples and "too few".
TEST(Reports, ShowUnnamedFunctionsLookAlikeRowsAndSampledRanges) {
  // Two calls (file offsets 0x1100 and 0x1200) inside one unnamed function, called from 0x1300.
  const SymbolSource symbols = [](const symbolize::ModuleRef& m, uint64_t offset) {
    std::vector<symbolize::Frame> frames;
    if (m.path != "/opt/t/app") return frames;
    symbolize::Frame f;
    if (offset == 0x1100 || offset == 0x1200) {
      f.function = "app!fn@0x10f0";
      f.unnamed = true;
    } else if (offset == 0x1300) {
      f.function = "retain__store";
    }
    if (!f.function.empty()) frames.push_back(f);
    return frames;
  };
  constexpr uint64_t kBase = 0x555500000000;  // where test_snapshots.h maps the app
  auto text_of = [](int64_t scale) {
    std::string t = leakprobe_text(
        {Line{3 * scale,
              3 * scale * 64,
              3 * scale,
              3 * scale * 64,
              {kBase + 0x1101, kBase + 0x1301}},
         Line{1 * scale, scale * 64, scale, scale * 64, {kBase + 0x1201, kBase + 0x1301}}});
    t.replace(t.find("@ heapprofile"), 13, "@ heap_v2/65536");
    return t;
  };
  const Snapshot a = must_parse(text_of(1)), b = must_parse(text_of(2));
  Result<Analysis> r = analyze({&a, &b}, symbols, Options{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Analysis& an = r.value();
  ASSERT_EQ(an.entries.size(), 2u);
  for (const Entry& e : an.entries) {
    EXPECT_TRUE(e.key.unnamed);
    EXPECT_EQ(e.named_caller, "retain__store");
    EXPECT_EQ(e.distinction.kind, Distinction::Kind::kOffset);
    ASSERT_TRUE(e.sampled);
  }
  std::ostringstream text, json, html;
  ReportContext wide;
  wide.wide = true;  // the sampled table's extra columns leave the site little room
  write_text_report(text, an, wide);
  write_json_report(json, an, ReportContext{});
  write_html_report(html, an, ReportContext{});
  EXPECT_NE(text.str().find("app!fn@0x10f0 at +0x1100 (unnamed, called from retain__store)"),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("3 few"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("app!fn@0x10f0 is an unnamed function (no symbol; named by its start), "
                            "called from retain__store"),
            std::string::npos);
  EXPECT_NE(text.str().find("too few samples to size it"), std::string::npos);
  EXPECT_NE(json.str().find("\"named_caller\": \"retain__store\""), std::string::npos);
  EXPECT_NE(json.str().find("\"few_samples\": true"), std::string::npos);
  // The same note as the text table (site_label.h).
  EXPECT_NE(html.str().find("(unnamed, called from retain__store)"), std::string::npos);
  EXPECT_NE(html.str().find("3 samples (too few)"), std::string::npos);
  EXPECT_NE(html.str().find("at +0x1200"), std::string::npos);
}

}  // namespace
}  // namespace leakprobe::analysis
