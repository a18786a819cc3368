// muxed-ipi-wakelist (9fb1b36ca1): rq->wake_list and ipi_message not
// ordered on POWER, so a woken task sticks in TASK_WAKING. Runs on the
// modelled host plane (hostipi/wakelist.h); no VM.
#ifndef KVMBED_SCENARIOS_MUXED_IPI_WAKELIST_H_
#define KVMBED_SCENARIOS_MUXED_IPI_WAKELIST_H_

#include "absl/status/statusor.h"
#include "hostipi/wakelist.h"
#include "scenarios/reproduce_spec.h"
#include "scenarios/scenario.h"

namespace kvmbed {
namespace scenarios {

// The options a profile gives (configs/reproduce-muxed-ipi-wakelist.yaml):
// buggy_budget, fixed_budget, fixed_operations (-> fixed_wakeups), seed,
// and wakelist.{mode, cpus, buggy_model, fixed_model, threshold_ticks}.
// Errors name the profile and the fix.
absl::StatusOr<hostipi::WakelistOptions> WakelistOptionsFromProfile(const ScenarioProfile& profile);

const Scenario& MuxedIpiWakelistScenario();

}  // namespace scenarios
}  // namespace kvmbed

#endif  // KVMBED_SCENARIOS_MUXED_IPI_WAKELIST_H_
