// lost-host-ipi (3a83f677): a reordered store leaves kvm_hstate.host_ipi 0
// while a message is set; the doorbell is ignored and callers spin in
// csd_lock_wait(). Two planes:
//   model (default): the hostipi protocol on modelled POWER CPUs, shapes 1
//     (the sender's stores) and 2 (the receiver's clear), hostipi/reproduce.h;
//   kvm: shape 2 with a real KVM vCPU thread as the target host CPU, whose
//     doorbell is a kick out of KVM_RUN (lost_host_ipi_kvm.h).
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "hostipi/reproduce.h"
#include "hostipi/stall_report.h"
#include "scenarios/lost_host_ipi_kvm.h"
#include "scenarios/scenario.h"

namespace kvmbed {
namespace scenarios {
namespace {

// The model plane's kernel model: a flag replaces the profile's, and an
// empty flag asks for the shape's default (none).
absl::StatusOr<std::optional<hostipi::KernelModel>> ModelOverride(
    const std::optional<std::string>& flag, const std::optional<hostipi::KernelModel>& profile,
    absl::string_view prefix) {
  if (!flag.has_value()) return profile;
  if (flag->empty()) return std::optional<hostipi::KernelModel>();
  ASSIGN_OR_RETURN(hostipi::KernelModel m, ModelFromFlag(*flag, prefix));
  return std::optional<hostipi::KernelModel>(m);
}

// The model plane's result in the shared contract, keeping its own text and
// JSON (they carry the workload, threshold and per-phase counters).
Reproduction ToReproduction(const hostipi::ReproduceResult& r, const std::string& bug,
                            const std::string& fix) {
  Reproduction out;
  out.name = "lost-host-ipi";
  out.commit = "3a83f677";
  out.bug = bug;
  out.fix = fix;
  out.unit = "doorbells";
  auto phase = [](const hostipi::PhaseResult& p) {
    ReproductionPhase q;
    q.ran = p.ran;
    q.kernel_model = p.kernel_model;
    q.hung = p.reproduced;
    q.seconds = p.seconds;
    q.seconds_to_hang = p.seconds_to_lost;
    q.operations = p.doorbells;
    q.operations_to_hang = p.doorbells_to_lost;
    q.hangs = p.stalls_lost;
    q.slow = p.stalls_slow;
    q.report = p.report;
    return q;
  };
  out.buggy = phase(r.buggy);
  out.fixed = phase(r.fixed);
  out.notes = r.warnings;
  out.rendered = hostipi::RenderReproduceResult(r);
  out.rendered_json = nlohmann::json::parse(hostipi::ReproduceResultToJson(r));
  return out;
}

class LostHostIpi : public Scenario {
 public:
  std::string Name() const override { return "lost-host-ipi"; }
  std::string Commit() const override { return "3a83f677"; }
  std::string Bug() const override {
    return "POWER9 host: a reordered store leaves host_ipi 0 while a message is set, the "
           "doorbell is ignored and callers spin in csd_lock_wait()";
  }
  std::string Fix() const override {
    return "smp_mb() before setting and after clearing kvm_hstate.host_ipi";
  }
  std::vector<std::string> Flags(const Overrides& given) const override {
    // Both planes take these; --cpus/--seed only the model, --store-hold only kvm.
    std::vector<std::string> f = {"plane",           "scenario",  "mode",        "buggy_budget",
                                  "fixed_budget",    "fixed_doorbells", "threshold", "pin",
                                  "buggy_model",     "fixed_model"};
    if (OnKvm(given)) {
      f.push_back("store_hold");
    } else {
      f.push_back("cpus");
      f.push_back("seed");
    }
    return f;
  }
  bool NeedsKvm(const Overrides& given) const override { return OnKvm(given); }
  absl::StatusOr<Reproduction> Run(const ScenarioInput& in) const override {
    RETURN_IF_ERROR(CheckScenarioProfile(in.profile, Name()));
    ASSIGN_OR_RETURN(Plane plane, PlaneOf(in.overrides));
    return plane == Plane::kKvm ? RunOnKvm(in) : RunOnModel(in);
  }

 private:
  // --plane, the model plane when not given.
  static absl::StatusOr<Plane> PlaneOf(const Overrides& f) {
    if (!f.plane.has_value()) return Plane::kModel;
    absl::StatusOr<Plane> plane = kPlaneNames.ParseOr(*f.plane, "plane");
    if (!plane.ok()) return absl::InvalidArgumentError(absl::StrCat("--plane: ", plane.status().message()));
    return *plane;
  }
  static bool OnKvm(const Overrides& f) {
    absl::StatusOr<Plane> plane = PlaneOf(f);
    return plane.ok() && *plane == Plane::kKvm;
  }

  absl::StatusOr<Reproduction> RunOnModel(const ScenarioInput& in) const {
    const ReproduceSpec& p = in.profile.reproduce;
    const Overrides& f = in.overrides;
    hostipi::ReproduceOptions o;
    o.scenario = f.shape.value_or(p.lost_host_ipi.shape);
    o.mode = p.lost_host_ipi.mode;
    if (f.mode.has_value()) {
      absl::StatusOr<hostipi::OrderingMode> mode = hostipi::ParseOrderingMode(*f.mode);
      if (!mode.ok()) return absl::InvalidArgumentError(absl::StrCat("--mode: ", mode.status().message()));
      o.mode = *mode;
    }
    o.num_cpus = f.cpus.value_or(p.lost_host_ipi.cpus);
    o.seed = f.seed.value_or(p.seed);
    o.buggy_budget = f.buggy_budget.value_or(p.buggy_budget);
    o.fixed_budget = f.fixed_budget.value_or(p.fixed_budget);
    o.fixed_doorbells = f.fixed_operations.value_or(p.fixed_operations);
    o.threshold_ns = f.threshold.value_or(p.lost_host_ipi.threshold);
    o.pin_cpus = f.pin.value_or(p.lost_host_ipi.pin);
    ASSIGN_OR_RETURN(o.buggy_model,
                     ModelOverride(f.buggy_model, p.lost_host_ipi.buggy_model, "buggy model: "));
    ASSIGN_OR_RETURN(o.fixed_model,
                     ModelOverride(f.fixed_model, p.lost_host_ipi.fixed_model, "fixed model: "));
    if (in.on_stall) {
      auto on_stall = in.on_stall;
      o.on_stall = [on_stall](const hostipi::StallReport& report) {
        hostipi::StallEventLine line = hostipi::StallEvent(
            report, "host", report.verdict == hostipi::StallVerdict::kLost ? "lost" : "slow",
            hostipi::FormatStallReport(report));
        on_stall(line.type, line.fields);
      };
    }
    ASSIGN_OR_RETURN(hostipi::ReproduceResult r, hostipi::Reproduce(o));
    return ToReproduction(r, Bug(), Fix());
  }

  absl::StatusOr<Reproduction> RunOnKvm(const ScenarioInput& in) const {
    const ReproduceSpec& p = in.profile.reproduce;
    const Overrides& f = in.overrides;
    KvmReproOptions o;
    if (f.shape.has_value() && *f.shape != 2) {
      return absl::InvalidArgumentError(
          "--plane=kvm: only --scenario=2 (the receiver's clear) can happen on x86 vCPU "
          "threads");
    }
    if (f.mode.has_value()) {
      // native (default here): x86's store buffer; emulated-power: a seeded
      // POWER-like store buffer per thread (hostipi ThreadStoreBuffers).
      absl::StatusOr<hostipi::OrderingMode> mode = hostipi::ParseOrderingMode(*f.mode);
      if (!mode.ok()) return absl::InvalidArgumentError(absl::StrCat("--mode: ", mode.status().message()));
      o.ordering = *mode;
    }
    if (f.store_hold.has_value()) {
      if (o.ordering != hostipi::OrderingMode::kEmulatedPower) {
        return absl::InvalidArgumentError("--store-hold: only with --mode=emulated-power");
      }
      o.store_hold = *f.store_hold;
    }
    o.buggy_budget = f.buggy_budget.value_or(p.buggy_budget);
    o.fixed_budget = f.fixed_budget.value_or(p.fixed_budget);
    o.fixed_doorbells = f.fixed_operations.value_or(p.fixed_operations);
    if (f.threshold.has_value()) o.threshold = absl::Nanoseconds(*f.threshold);
    if (f.pin.has_value()) {
      if (f.pin->size() != 2) {
        return absl::InvalidArgumentError("--pin: give two CPUs: the sender's, then the vCPU's");
      }
      o.pin_cpus = *f.pin;
    }
    if (f.buggy_model.has_value()) {
      ASSIGN_OR_RETURN(o.buggy_model, ModelFromFlag(*f.buggy_model, ""));
    }
    if (f.fixed_model.has_value()) {
      ASSIGN_OR_RETURN(o.fixed_model, ModelFromFlag(*f.fixed_model, ""));
    }
    o.out = in.out;
    return ReproduceLostHostIpiOnKvm(o);
  }
};

}  // namespace

const Scenario& LostHostIpiScenario() {
  static const LostHostIpi* s = new LostHostIpi;
  return *s;
}

}  // namespace scenarios
}  // namespace kvmbed
