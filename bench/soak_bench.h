// Soak benchmarks (figures, not tests):
//   soak-overhead  the watchdogs' cost: IPIs/s with the watchdogs on and off
//                  in alternating pairs of rounds, per-pair ratios with their
//                  median, IQR and 95% intervals against the 0.99 target;
//   soak-rss       RSS over a soak, split into resident guest RAM and the
//                  VMM's own.
// Both print their figures; they fail only when a round cannot run.
#ifndef KVMBED_BENCH_SOAK_BENCH_H_
#define KVMBED_BENCH_SOAK_BENCH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "runner/run_spec.h"
#include "runner/soak.h"

namespace kvmbed {
namespace bench {

struct SoakOverheadOptions {
  int pairs = 12;  // pairs of rounds, ordered on-off, off-on, ...
  absl::Duration warmup = absl::Seconds(1);  // dropped after boot, each round
  // Pairs where kvmbed got less than this share of its host CPUs are rerun
  // (up to 3x as many pairs); 0 keeps every round.
  double min_cpu_share = 0.9;
  std::string tmp_dir = "/tmp";  // the rounds' event logs
};
// Each round measures spec.duration after the warm-up.
absl::Status SoakOverheadBench(const RunSpec& spec, runner::SoakOptions so,
                               const SoakOverheadOptions& options);

struct SoakRssOptions {
  absl::Duration every = absl::Seconds(10);  // sampling period
  std::string tmp_dir = "/tmp";
};
absl::Status SoakRssBench(const RunSpec& spec, runner::SoakOptions so,
                          const SoakRssOptions& options);

}  // namespace bench
}  // namespace kvmbed

#endif  // KVMBED_BENCH_SOAK_BENCH_H_
