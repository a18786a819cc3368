// `kvmbed bench ipi`: on_cpu-style IPI round trips inside a real guest. The
// sender vCPU queues a no-op csd on the target, sends the call-function IPI
// through the x2APIC ICR, and waits for the csd lock to clear; each round
// trip is timed with the guest TSC. Run with the target idle in hlt and with
// the target spinning (interrupts on). kvm-unit-tests' x86/vmexit `ipi`
// test times the same round trip (its on_cpu(1, nop, 0)) and prints the
// mean in cycles, so `ipi <mean cycles>` compares directly.
//
// Also the start-up calibration of the csd / soft-lockup thresholds.
//
// Threading: plain functions; each call builds and tears down its own VM.
#ifndef KVMBED_RUNNER_IPI_LATENCY_H_
#define KVMBED_RUNNER_IPI_LATENCY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runner/run_spec.h"

namespace kvmbed {
namespace runner {

// What one round trip goes through in the guest.
enum class IpiPath {
  // kvm-unit-tests' on_cpu protocol (one mailbox, ICR write, the handler
  // runs the function and sets `done`): compares like for like with
  // x86/vmexit `ipi`.
  kOnCpu,
  // smp_call_function_single(wait): csd lock, call_single_queue, IPI,
  // flush, csd_lock_wait -- the path the torture workload and the stall
  // watchdog use.
  kCsd,
};

struct IpiBenchOptions {
  IpiPath path = IpiPath::kOnCpu;
  int sender = 0;
  int target = 1;
  bool target_spins = false;  // false: the target idles in hlt
  int iterations = 2000;      // timed round trips
  int warmup = 100;           // untimed round trips first
  absl::Duration timeout = absl::Seconds(60);
};

// Round-trip latency figures in TSC cycles.
struct IpiLatency {
  std::string label;  // "on_cpu, target idle (hlt)", "csd, target spinning", ...
  uint64_t samples = 0;
  uint32_t tsc_khz = 0;  // KVM_GET_TSC_KHZ
  uint64_t min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
  uint64_t mean = 0;
  // Cycles to microseconds with tsc_khz.
  double Us(uint64_t cycles) const;
};

// Percentiles (nearest rank) and mean of `cycles` (modified: sorted).
IpiLatency Summarize(std::vector<uint64_t>& cycles, uint32_t tsc_khz, const std::string& label);

// One series on a VM shaped by `vm` (needs >= 2 vCPUs; its pinning is used).
absl::StatusOr<IpiLatency> RunIpiBench(const VmSpec& vm, const IpiBenchOptions& options);

struct IpiBenchReport {
  IpiLatency hlt;       // on_cpu, target idle in hlt (the kvm-unit-tests shape)
  IpiLatency spin;      // on_cpu, target spinning
  IpiLatency csd_hlt;   // smp_call_function_single, target idle in hlt
  IpiLatency csd_spin;  // smp_call_function_single, target spinning
};
// All four series, one VM each, on a 2-vCPU VM with the pinning of vCPUs 0
// and 1 of `vm` (BenchVmSpec); `vm` needs >= 2 vCPUs.
absl::StatusOr<IpiBenchReport> RunIpiBenchSuite(const VmSpec& vm, int iterations);
// All four blocks, then `ipi <mean cycles>` of the on_cpu/hlt series last
// (the figure kvm-unit-tests' x86/vmexit `ipi` prints).
std::string FormatIpiBenchReport(const IpiBenchReport& r);

// The figures, one series per block:
//   ipi round trip, on_cpu, target idle (hlt): 2000 samples, TSC 2400000 kHz
//     p50 71234 cycles (29.68 us)  p90 ...  p99 ...  max ...
//     ipi 80123
std::string FormatIpiLatency(const IpiLatency& l);

// Start-up calibration for the stall thresholds (docs/DESIGN.md: never a
// hard-coded 5 s).
struct Calibration {
  IpiLatency latency;                    // csd path, target idle in hlt
  absl::Duration csd_timeout;            // max(1000 x p50, 50 x max, 50 ms)
  absl::Duration soft_lockup_threshold;  // 4 x csd_timeout (kernel ratio 20 s : 5 s)
  double overcommit = 1;               // the factor applied to both
};
// The bench VM has 2 vCPUs; the thresholds are then scaled by `vm`'s vCPU
// overcommit (vCPUs per distinct host CPU they may run on, at least 1): a
// target vCPU may wait behind that many others for its host CPU.
absl::StatusOr<Calibration> CalibrateThresholds(const VmSpec& vm, int iterations = 300);
Calibration ThresholdsFrom(const IpiLatency& latency, double overcommit = 1);
// vCPUs per distinct host CPU of vm.vcpu_affinity (>= 1).
double Overcommit(const VmSpec& vm);

// A 2-vCPU VmSpec for the bench built from `vm`: same memory, vCPUs 0 and 1
// keep vm's affinity (vCPU 0's for both if vm has one vCPU).
VmSpec BenchVmSpec(const VmSpec& vm);

}  // namespace runner
}  // namespace kvmbed

#endif  // KVMBED_RUNNER_IPI_LATENCY_H_
