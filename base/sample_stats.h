// Order statistics for benchmarks on noisy shared machines: quantiles,
// median, interquartile range and a percentile-bootstrap confidence interval
// of the median (deterministic for a given seed).
//
// Threading: pure functions, safe from any thread.
#ifndef KVMBED_BASE_SAMPLE_STATS_H_
#define KVMBED_BASE_SAMPLE_STATS_H_

#include <cstdint>
#include <vector>

namespace kvmbed {

// The q-quantile (0 <= q <= 1) of `v`, interpolating linearly between order
// statistics (Hyndman & Fan type 7, as R's and NumPy's default). 0 when empty.
double Quantile(std::vector<double> v, double q);

// The median of `v` (mean of the two middle values when the size is even).
double Median(std::vector<double> v);

struct Interval {
  double low = 0;
  double high = 0;
  bool Contains(double x) const { return x >= low && x <= high; }
};

// The percentile bootstrap `confidence` (e.g. 0.95) interval of the median
// of `v`: `resamples` resamples with replacement, seeded with `seed`.
// {0, 0} when `v` is empty.
Interval BootstrapMedianCi(const std::vector<double>& v, double confidence, int resamples,
                           uint64_t seed);

// The distribution-free confidence interval of the median from order
// statistics: [x(k), x(n+1-k)] of the sorted sample with the largest k whose
// coverage 1 - 2 P(Binomial(n, 1/2) <= k-1) is at least `confidence`.
// Unlike the bootstrap it keeps its coverage for small n; when even
// [min, max] falls short (n < 6 for 95%) it returns that with ok = false.
struct MedianCi {
  Interval ci;
  double coverage = 0;  // the exact coverage of `ci`
  bool ok = false;      // coverage >= the confidence asked for
};
MedianCi OrderStatMedianCi(const std::vector<double>& v, double confidence);

// Median, quartiles and bootstrap 95% CI of the median, in one go.
struct SampleSummary {
  int n = 0;
  double median = 0;
  double q1 = 0;  // 25th percentile
  double q3 = 0;  // 75th percentile
  double min = 0;
  double max = 0;
  Interval ci95;  // of the median (bootstrap)
  MedianCi exact95;  // of the median (order statistics)
  double Iqr() const { return q3 - q1; }
};
SampleSummary Summarize(const std::vector<double>& v, uint64_t seed = 1);

}  // namespace kvmbed

#endif  // KVMBED_BASE_SAMPLE_STATS_H_
