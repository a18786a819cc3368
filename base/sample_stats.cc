#include "base/sample_stats.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace kvmbed {

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  q = std::min(1.0, std::max(0.0, q));
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return v[lo] + frac * (v[hi] - v[lo]);
}

double Median(std::vector<double> v) { return Quantile(std::move(v), 0.5); }

Interval BootstrapMedianCi(const std::vector<double>& v, double confidence, int resamples,
                           uint64_t seed) {
  if (v.empty() || resamples < 1) return {};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  std::vector<double> medians;
  medians.reserve(static_cast<size_t>(resamples));
  std::vector<double> s(v.size());
  for (int r = 0; r < resamples; ++r) {
    for (double& x : s) x = v[pick(rng)];
    medians.push_back(Median(s));
  }
  const double tail = (1.0 - confidence) / 2;
  return {Quantile(medians, tail), Quantile(medians, 1.0 - tail)};
}

MedianCi OrderStatMedianCi(const std::vector<double>& v, double confidence) {
  MedianCi out;
  const int n = static_cast<int>(v.size());
  if (n == 0) return out;
  std::vector<double> x = v;
  std::sort(x.begin(), x.end());
  // cdf[j] = P(Binomial(n, 1/2) <= j), accumulated in doubles via log-free
  // recurrence C(n, j+1) = C(n, j) (n - j) / (j + 1), scaled by 2^-n.
  std::vector<double> cdf(static_cast<size_t>(n) + 1);
  double term = std::pow(0.5, n);
  double acc = 0;
  for (int j = 0; j <= n; ++j) {
    acc += term;
    cdf[static_cast<size_t>(j)] = acc;
    term = term * (n - j) / (j + 1);
  }
  int best = 1;
  for (int k = 1; 2 * k <= n + 1; ++k) {
    const double cover = k == 1 ? 1 - 2 * cdf[0] : 1 - 2 * cdf[static_cast<size_t>(k - 1)];
    if (cover >= confidence) best = k;
  }
  out.coverage = 1 - 2 * cdf[static_cast<size_t>(best - 1)];
  out.ok = out.coverage >= confidence;
  out.ci = {x[static_cast<size_t>(best - 1)], x[static_cast<size_t>(n - best)]};
  return out;
}

SampleSummary Summarize(const std::vector<double>& v, uint64_t seed) {
  SampleSummary s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  s.median = Median(v);
  s.q1 = Quantile(v, 0.25);
  s.q3 = Quantile(v, 0.75);
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  s.ci95 = BootstrapMedianCi(v, 0.95, 10000, seed);
  s.exact95 = OrderStatMedianCi(v, 0.95);
  return s;
}

}  // namespace kvmbed
