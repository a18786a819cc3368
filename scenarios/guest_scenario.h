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
#ifndef KVMBED_SCENARIOS_GUEST_SCENARIO_H_
#define KVMBED_SCENARIOS_GUEST_SCENARIO_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/reproduction.h"
#include "runner/run_spec.h"
#include "scenarios/reproduce_spec.h"
#include "scenarios/scenario.h"

namespace kvmbed {
namespace scenarios {

struct GuestReproOptions {
  // Live progress lines and reports as they happen (null = quiet); the
  // returned Reproduction carries the reports either way.
  std::function<void(const std::string&)> out;
  bool run_buggy = true;
  bool run_fixed = true;
  // When > 0, override the profile's seed (benchmarks vary it per run).
  uint64_t seed_override = 0;
};

// A guest-plane scenario's entry point.
using GuestScenarioFn = absl::StatusOr<Reproduction> (*)(const ScenarioProfile& run,
                                                         const GuestReproOptions& options);

// A Scenario whose phases run in fresh VMs through `fn`.
class GuestScenario : public Scenario {
 public:
  GuestScenario(std::string name, std::string commit, std::string bug, std::string fix,
                GuestScenarioFn fn)
      : name_(std::move(name)), commit_(std::move(commit)), bug_(std::move(bug)),
        fix_(std::move(fix)), fn_(fn) {}
  std::string Name() const override { return name_; }
  std::string Commit() const override { return commit_; }
  std::string Bug() const override { return bug_; }
  std::string Fix() const override { return fix_; }
  bool NeedsKvm(const Overrides&) const override { return true; }
  absl::StatusOr<Reproduction> Run(const ScenarioInput& input) const override;
  GuestScenarioFn fn() const { return fn_; }

 private:
  std::string name_, commit_, bug_, fix_;
  GuestScenarioFn fn_;
};

// `run` must have a `reproduce:` section with scenario pvspinlock-kick and
// one VM with >= 3 vCPUs. Errors: bad profile/spec, KVM setup failures.
absl::StatusOr<Reproduction> ReproducePvSpinlockKick(const ScenarioProfile& run,
                                                     const GuestReproOptions& options = {});
// `run` must have a `reproduce:` section with scenario offline-csd-flush and
// one VM with >= 2 vCPUs.
absl::StatusOr<Reproduction> ReproduceOfflineCsdFlush(const ScenarioProfile& run,
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
    const GuestScenario& scenario, const ScenarioProfile& run, int runs,
    absl::Duration fixed_budget = absl::ZeroDuration());
std::string FormatGuestReproBench(const GuestReproBench& b);

}  // namespace scenarios
}  // namespace kvmbed

#endif  // KVMBED_SCENARIOS_GUEST_SCENARIO_H_
