// Boot benchmark: time from VM creation (vmm::Machine::Create) to every vCPU
// online, N times, plus the process's peak RSS. The CLI prints the median and
// range (`kvmbed bench boot --vcpus 56`); FormatBootBench does it for you.
//
// Threading: RunBootBench runs on the calling thread and creates/destroys one
// VM at a time.
#ifndef KVMBED_BENCH_BOOT_BENCH_H_
#define KVMBED_BENCH_BOOT_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kvmbed {
namespace bench {

struct BootBenchOptions {
  int vcpus = 56;
  int runs = 5;
  uint64_t memory_bytes = 64ull << 20;
  // Host CPUs every vCPU may use; empty = the process's current affinity.
  std::vector<int> host_cpus;
  absl::Duration boot_timeout = absl::Seconds(20);
};

struct BootBenchResult {
  int vcpus = 0;
  std::vector<absl::Duration> samples;  // one per run, in run order
  absl::Duration median, min, max;
  long peak_rss_kib = 0;  // getrusage(RUSAGE_SELF).ru_maxrss after the runs
};

// Boots `runs` VMs one after another; any failed boot is an error.
absl::StatusOr<BootBenchResult> RunBootBench(const BootBenchOptions& options);

// "boot 56 vCPUs: median 41.2ms, range 38.0ms..47.9ms over 5 runs, peak RSS 12345 KiB"
std::string FormatBootBench(const BootBenchResult& result);

}  // namespace bench
}  // namespace kvmbed

#endif  // KVMBED_BENCH_BOOT_BENCH_H_
