// Internals shared by scenarios/pvspinlock_kick.cc and scenarios/offline_csd_flush.cc.
#ifndef KVMBED_SCENARIOS_GUEST_SCENARIO_INTERNAL_H_
#define KVMBED_SCENARIOS_GUEST_SCENARIO_INTERNAL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runner/run_spec.h"
#include "guest/abi.h"
#include "scenarios/guest_scenario.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace scenarios {
namespace repro_internal {

// What one phase (buggy or fixed model) of a guest scenario runs with.
struct PhaseSetup {
  const ScenarioProfile* run;
  abi::ReproParams params;
  absl::Duration threshold;
  uint64_t seed;
  absl::Duration budget;
  int64_t max_ops;
};

// Checks that `run` is a profile for `scenario` with one VM of at least
// `min_vcpus` vCPUs; the error names the profile and the fix.
absl::Status CheckRun(const ScenarioProfile& run, const std::string& scenario, int min_vcpus);

// reproduce.threshold, or a calibration of this host's IPI latency (the
// guest csd threshold, runner/ipi_latency.h) when the profile left it out.
// `how` says which.
absl::StatusOr<absl::Duration> Threshold(const ScenarioProfile& run, std::string* how);

// A booted VM running `workload` with SmpParams (csd threshold, seed, ring
// 3) and `params` written before its vCPUs start. Pins the calling thread
// to the VM's emulatorpin.
absl::StatusOr<std::unique_ptr<vmm::Machine>> BootReproVm(const VmSpec& vm, abi::Workload workload,
                                                     const abi::ReproParams& params,
                                                     absl::Duration csd_timeout, uint64_t seed,
                                                     vmm::MachineOptions options);

// "RIP <hex> <symbol>" of vCPU i (from its own thread), or why not.
std::string RipOf(vmm::Machine& m, int vcpu);

// A Reproduction headed with guest scenario `scenario`'s name, commit, bug
// and fix (GuestScenarios()), counting `unit`.
Reproduction NewReproduction(const std::string& scenario, const std::string& unit);

// The seed the phases use.
uint64_t SeedOf(const ScenarioProfile& run, const GuestReproOptions& o);

void Emit(const GuestReproOptions& o, const std::string& text);

}  // namespace repro_internal
}  // namespace scenarios
}  // namespace kvmbed

#endif  // KVMBED_SCENARIOS_GUEST_SCENARIO_INTERNAL_H_
