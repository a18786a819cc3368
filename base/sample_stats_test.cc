#include "base/sample_stats.h"

#include <vector>

#include "gtest/gtest.h"

namespace kvmbed {
namespace {

TEST(SampleStatsTest, QuantilesOfKnownInput) {
  // Type-7 quantiles of 1..9 (unsorted on purpose).
  std::vector<double> v = {9, 1, 8, 2, 7, 3, 6, 4, 5};
  EXPECT_DOUBLE_EQ(Median(v), 5);
  EXPECT_DOUBLE_EQ(Quantile(v, 0.25), 3);
  EXPECT_DOUBLE_EQ(Quantile(v, 0.75), 7);
  EXPECT_DOUBLE_EQ(Quantile(v, 0), 1);
  EXPECT_DOUBLE_EQ(Quantile(v, 1), 9);
  // Even size: interpolated. 1,2,3,4 -> median 2.5, q1 1.75, q3 3.25.
  std::vector<double> e = {4, 3, 2, 1};
  EXPECT_DOUBLE_EQ(Median(e), 2.5);
  EXPECT_DOUBLE_EQ(Quantile(e, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(Quantile(e, 0.75), 3.25);
  EXPECT_DOUBLE_EQ(Median({}), 0);
  EXPECT_DOUBLE_EQ(Median({42}), 42);
}

TEST(SampleStatsTest, SummaryIqrAndRange) {
  SampleSummary s = Summarize({1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(s.n, 9);
  EXPECT_DOUBLE_EQ(s.median, 5);
  EXPECT_DOUBLE_EQ(s.Iqr(), 4);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 9);
}

TEST(SampleStatsTest, BootstrapCiOfConstantIsThePoint) {
  Interval ci = BootstrapMedianCi(std::vector<double>(20, 0.995), 0.95, 2000, 7);
  EXPECT_DOUBLE_EQ(ci.low, 0.995);
  EXPECT_DOUBLE_EQ(ci.high, 0.995);
}

TEST(SampleStatsTest, BootstrapCiBracketsTheMedianAndNarrowsWithN) {
  // Symmetric spread around 1.0: 0.90, 0.91, ..., 1.10 (21 values).
  std::vector<double> v;
  for (int i = -10; i <= 10; ++i) v.push_back(1.0 + 0.01 * i);
  Interval ci = BootstrapMedianCi(v, 0.95, 5000, 1);
  EXPECT_LT(ci.low, 1.0);
  EXPECT_GT(ci.high, 1.0);
  EXPECT_GE(ci.low, 0.90);
  EXPECT_LE(ci.high, 1.10);
  // For the median of 21 values the 95% interval spans roughly order
  // statistics 6..16, i.e. about 0.95..1.05; it is certainly not the range.
  EXPECT_GT(ci.low, 0.93);
  EXPECT_LT(ci.high, 1.07);
  // Four copies of the same data: a much narrower interval.
  std::vector<double> big;
  for (int k = 0; k < 4; ++k) big.insert(big.end(), v.begin(), v.end());
  Interval narrow = BootstrapMedianCi(big, 0.95, 5000, 1);
  EXPECT_LT(narrow.high - narrow.low, ci.high - ci.low);
  // Deterministic for a seed.
  Interval again = BootstrapMedianCi(v, 0.95, 5000, 1);
  EXPECT_DOUBLE_EQ(again.low, ci.low);
  EXPECT_DOUBLE_EQ(again.high, ci.high);
}

TEST(SampleStatsTest, BootstrapCiOfShiftedDataExcludesTheOldCentre) {
  // Ratios clearly below 0.99: the interval must lie below it.
  std::vector<double> v = {0.970, 0.975, 0.972, 0.968, 0.980, 0.974, 0.971, 0.977, 0.969, 0.973};
  Interval ci = BootstrapMedianCi(v, 0.95, 5000, 3);
  EXPECT_LT(ci.high, 0.99);
  EXPECT_TRUE(ci.Contains(Median(v)));
}

TEST(SampleStatsTest, OrderStatisticCiOfTheMedian) {
  // n = 12: k = 3 gives coverage 1 - 2 * 79/4096 = 0.9614 (k = 4: 0.854).
  std::vector<double> v = {12, 1, 11, 2, 10, 3, 9, 4, 8, 5, 7, 6};
  MedianCi m = OrderStatMedianCi(v, 0.95);
  EXPECT_TRUE(m.ok);
  EXPECT_DOUBLE_EQ(m.ci.low, 3);
  EXPECT_DOUBLE_EQ(m.ci.high, 10);
  EXPECT_NEAR(m.coverage, 1 - 2 * 79.0 / 4096, 1e-12);
  // n = 5: even [min, max] covers only 1 - 2/32 = 0.9375 < 0.95.
  MedianCi small = OrderStatMedianCi({5, 1, 4, 2, 3}, 0.95);
  EXPECT_FALSE(small.ok);
  EXPECT_DOUBLE_EQ(small.ci.low, 1);
  EXPECT_DOUBLE_EQ(small.ci.high, 5);
  EXPECT_NEAR(small.coverage, 0.9375, 1e-12);
  // n = 6: [min, max] covers 1 - 2/64 = 0.96875.
  EXPECT_TRUE(OrderStatMedianCi({1, 2, 3, 4, 5, 6}, 0.95).ok);
  EXPECT_FALSE(OrderStatMedianCi({}, 0.95).ok);
}

}  // namespace
}  // namespace kvmbed
