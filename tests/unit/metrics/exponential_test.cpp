// Base-2 exponential histogram aggregation: bucket index mapping against the
// boundaries it must respect, rescaling that keeps every count, and the
// difference of two cumulative snapshots used for delta export.
#include <gtest/gtest.h>

#include <cmath>

#include "metrics/exponential.hpp"

namespace emp::telemetry::metrics {
namespace {

TEST(ExpoIndex, PowersOfTwoAreUpperBoundaries) {
  // Bucket i covers (base^i, base^(i+1)]; 1 = 2^0 is the top of bucket -1.
  EXPECT_EQ(expo_index(1.0, 0), -1);
  EXPECT_EQ(expo_index(2.0, 0), 0);
  EXPECT_EQ(expo_index(3.0, 0), 1);
  EXPECT_EQ(expo_index(4.0, 0), 1);
  EXPECT_EQ(expo_index(4.0, 1), 3);   // base sqrt(2): (2^1.5, 2^2]
  EXPECT_EQ(expo_index(4.0, -1), 0);  // base 4: (1, 4]
  EXPECT_EQ(expo_index(5.0, -1), 1);
  EXPECT_EQ(expo_index(0.5, 0), -2);
}

TEST(ExpoIndex, EveryValueLiesInsideItsBucket) {
  for (int scale : {-3, 0, 1, 3, 8, 20}) {
    for (double v = 1e-6; v < 1e9; v *= 1.37) {
      const auto i = expo_index(v, scale);
      EXPECT_GT(v, expo_lower_boundary(i, scale) * (1 - 1e-12)) << v << " scale " << scale;
      EXPECT_LE(v, expo_lower_boundary(i + 1, scale) * (1 + 1e-12)) << v << " scale " << scale;
    }
  }
}

TEST(ExpoHistogram, RescalesToFitAndKeepsEveryCount) {
  ExpoHistogram h(8, 20);
  for (int i = 1; i <= 100; ++i) h.record(i);
  h.record(0);
  h.record(-0.25);
  auto s = h.snapshot(false);
  EXPECT_EQ(s.count, 102u);
  EXPECT_EQ(s.zero_count, 1u);
  EXPECT_EQ(s.positive.total(), 100u);
  EXPECT_EQ(s.negative.total(), 1u);
  EXPECT_LE(s.positive.counts.size(), 8u);
  // 1..100 spans 2^0..2^6.64: 8 buckets need scale 0 (base 2) at most.
  EXPECT_LE(s.scale, 0);
  EXPECT_GE(s.scale, -1);
  // Each count sits in the bucket that covers its values.
  for (int i = 1; i <= 100; ++i) {
    const auto idx = expo_index(i, s.scale);
    EXPECT_GE(idx, s.positive.offset);
    EXPECT_LT(idx, s.positive.offset + static_cast<int>(s.positive.counts.size()));
  }
  EXPECT_EQ(s.min, -0.25);
  EXPECT_EQ(s.max, 100);
}

TEST(ExpoHistogram, DeltaOfCumulativeSnapshotsAcrossARescale) {
  ExpoHistogram h(4, 20);
  h.record(1.5);
  h.record(1.6);
  auto first = h.snapshot(true);
  h.record(1000);  // forces a lower scale
  h.record(1.5);
  auto second = h.snapshot(true);
  EXPECT_LT(second.scale, first.scale);
  auto d = subtract(second, first);
  EXPECT_EQ(d.count, 2u);
  EXPECT_EQ(d.positive.total(), 2u);
  EXPECT_DOUBLE_EQ(d.sum, 1001.5);
  EXPECT_EQ(d.min, 1.5);  // min/max were reset by the first snapshot
  EXPECT_EQ(d.max, 1000);
}

TEST(ExpoBuckets, DownscaleMergesPairs) {
  ExpoBuckets b;
  b.offset = -3;
  b.counts = {1, 2, 3, 4, 5};  // indexes -3..1
  b.downscale(1);               // -2,-2,-1,-1,0
  EXPECT_EQ(b.offset, -2);
  EXPECT_EQ(b.counts, (std::vector<std::uint64_t>{1, 5, 9}));
}

}  // namespace
}  // namespace emp::telemetry::metrics
