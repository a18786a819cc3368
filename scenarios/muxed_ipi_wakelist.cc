#include "scenarios/muxed_ipi_wakelist.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace kvmbed {
namespace scenarios {

absl::StatusOr<hostipi::WakelistOptions> WakelistOptionsFromProfile(
    const ScenarioProfile& profile) {
  RETURN_IF_ERROR(CheckScenarioProfile(profile, "muxed-ipi-wakelist"));
  const ReproduceSpec& r = profile.reproduce;
  hostipi::WakelistOptions o;
  o.mode = r.wakelist.mode;
  o.num_cpus = r.wakelist.cpus;
  o.seed = r.seed;
  o.buggy_budget = r.buggy_budget;
  o.fixed_budget = r.fixed_budget;
  o.fixed_wakeups = r.fixed_operations;
  o.threshold_ticks = r.wakelist.threshold_ticks;
  o.buggy_model = r.wakelist.buggy_model;
  o.fixed_model = r.wakelist.fixed_model;
  absl::Status valid = hostipi::ValidateWakelistOptions(o);
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat(profile.source, ": ", valid.message()));
  return o;
}

namespace {

class MuxedIpiWakelist : public Scenario {
 public:
  std::string Name() const override { return "muxed-ipi-wakelist"; }
  std::string Commit() const override { return "9fb1b36ca1"; }
  std::string Bug() const override {
    return "rq->wake_list update not ordered with ipi_message: the receiver demuxes RESCHEDULE "
           "but scheduler_ipi() sees an empty wake_list and the woken task sticks in "
           "TASK_WAKING";
  }
  std::string Fix() const override {
    return "full barrier in smp_muxed_ipi_message_pass(), xchg() not xchg_local() in "
           "smp_ipi_demux()";
  }
  std::vector<std::string> Flags(const Overrides&) const override {
    return {"cpus", "buggy_model", "fixed_model"};
  }
  bool NeedsKvm(const Overrides&) const override { return false; }
  absl::StatusOr<Reproduction> Run(const ScenarioInput& in) const override {
    ASSIGN_OR_RETURN(hostipi::WakelistOptions o, WakelistOptionsFromProfile(in.profile));
    const Overrides& f = in.overrides;
    if (f.cpus.has_value() && *f.cpus > 0) o.num_cpus = *f.cpus;
    if (f.buggy_model.has_value() && !f.buggy_model->empty()) {
      ASSIGN_OR_RETURN(o.buggy_model,
                       ModelFromFlag(*f.buggy_model, "muxed-ipi-wakelist: buggy_model: "));
    }
    if (f.fixed_model.has_value() && !f.fixed_model->empty()) {
      ASSIGN_OR_RETURN(o.fixed_model,
                       ModelFromFlag(*f.fixed_model, "muxed-ipi-wakelist: fixed_model: "));
    }
    return hostipi::ReproduceMuxedIpiWakelist(o);
  }
};

}  // namespace

const Scenario& MuxedIpiWakelistScenario() {
  static const MuxedIpiWakelist* s = new MuxedIpiWakelist;
  return *s;
}

}  // namespace scenarios
}  // namespace kvmbed
