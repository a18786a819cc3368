// Guest-plane reproductions of two seed lockups, each a `kvmbed reproduce
// NAME` scenario with the shared output contract (base/reproduction.h):
//
//   pvspinlock-kick   (76eaca031f0a, seeds/002) ReproducePvSpinlockKick()
//       Xen PV spinlocks whose unlock kicks only the first waiter: the
//       kicked waiter is busy in a nested interrupt that waits for the
//       other waiter's CPU, which polls forever. Fixed: kick every waiter.
//   offline-csd-flush (8d056c48e486, seeds/004) ReproduceOfflineCsdFlush()
//       CPU offline with a call-function IPI that arrives late: the csd
//       stays in the dead CPU's call_single_queue and its caller waits
//       forever. Fixed: flush the queue at CPU_DYING.
//
// Each runs the buggy model in a fresh VM until the hang is detected (or
// reproduce.buggy_budget passes), then the fixed model in another fresh VM
// with the same load for reproduce.fixed_budget (or fixed_operations).
// Options come from the profile's `reproduce:` section (configs/README.md,
// configs/reproduce-NAME.yaml) and its VM (vCPUs, memory, pinning).
//
// Threading: the Reproduce* calls block their caller (the emulator thread,
// pinned to the VM's emulatorpin) and run one vCPU thread per vCPU; `out`
// is called from the caller's thread only.
#ifndef KVMBED_VMM_GUEST_REPRO_H_
#define KVMBED_VMM_GUEST_REPRO_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/reproduction.h"
#include "configs/run_spec.h"

namespace kvmbed {
namespace vmm {

struct GuestReproOptions {
  // Live progress lines and reports as they happen (null = quiet); the
  // returned Reproduction carries the reports either way.
  std::function<void(const std::string&)> out;
  bool run_buggy = true;
  bool run_fixed = true;
  // When > 0, override the profile's seed (benchmarks vary it per run).
  uint64_t seed_override = 0;
};

// One scenario of this file, for `kvmbed reproduce --list` and aliases.
struct GuestScenario {
  std::string name;     // "pvspinlock-kick"
  std::string commit;   // "76eaca031f0a"
  std::string bug;      // one line
  std::string fix;      // one line
  std::string profile;  // "configs/reproduce-pvspinlock-kick.yaml" (repo-relative)
  // The entry point.
  std::function<absl::StatusOr<Reproduction>(const RunSpec&, const GuestReproOptions&)> run;
};

// pvspinlock-kick and offline-csd-flush.
const std::vector<GuestScenario>& GuestScenarios();
// The scenario named `name_or_commit` (a name, or a prefix of at least 7
// hex digits of its commit); null when none.
const GuestScenario* FindGuestScenario(const std::string& name_or_commit);

// `run` must have a `reproduce:` section with scenario pvspinlock-kick and
// one VM with >= 3 vCPUs. Errors: bad profile/spec, KVM setup failures.
absl::StatusOr<Reproduction> ReproducePvSpinlockKick(const RunSpec& run,
                                                     const GuestReproOptions& options = {});
// `run` must have a `reproduce:` section with scenario offline-csd-flush and
// one VM with >= 2 vCPUs.
absl::StatusOr<Reproduction> ReproduceOfflineCsdFlush(const RunSpec& run,
                                                      const GuestReproOptions& options = {});

// `kvmbed bench reproduce`: `runs` buggy phases (seeds 1..runs), the median
// time and operations to the hang and their operation rate; then, when
// `fixed_budget` > 0, one fixed phase of that length for the fixed model's
// operation rate.
struct GuestReproBench {
  std::string name;
  std::string unit;
  int runs = 0;
  int hung = 0;
  double median_seconds_to_hang = 0;
  double min_seconds_to_hang = 0;
  double max_seconds_to_hang = 0;
  double median_operations_to_hang = 0;
  double operations_per_second = 0;  // over all buggy runs
  double fixed_seconds = 0;          // 0 = no fixed run
  int64_t fixed_operations = 0;
  int64_t fixed_hangs = 0;
  double fixed_operations_per_second = 0;
};
absl::StatusOr<GuestReproBench> BenchGuestScenario(
    const GuestScenario& scenario, const RunSpec& run, int runs,
    absl::Duration fixed_budget = absl::ZeroDuration());
std::string FormatGuestReproBench(const GuestReproBench& b);

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_GUEST_REPRO_H_
