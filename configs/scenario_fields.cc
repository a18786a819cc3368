// The `reproduce:` section of scenario profiles (ReproduceSpec): budgets,
// thresholds and each scenario's own subsection (pvspinlock, offline,
// wakelist, lost_host_ipi), and its checks against the profile's VMs.
#include "configs/profile_reader.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/cpuset.h"
#include "base/status_macros.h"

namespace kvmbed {
namespace profile_internal {
namespace {

// Keys of the `reproduce:` section (RunSpec::reproduce).
const std::vector<KeySpec>& ReproduceKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"scenario", true, "scenario: pvspinlock-kick"},
      {"buggy_budget", false, "buggy_budget: 30s"},
      {"fixed_budget", false, "fixed_budget: 10s"},
      {"fixed_operations", false, "fixed_operations: 100000"},
      {"seed", false, "seed: 1"},
      {"threshold", false, "threshold: 300ms"},
      {"pvspinlock", false, "pvspinlock: {hold: 500us}"},
      {"offline", false, "offline: {target: 1}"},
      {"wakelist", false, "wakelist: {cpus: 4}"},
      {"lost_host_ipi", false, "lost_host_ipi: {shape: 2, mode: native}"},
  };
  return *keys;
}

const std::vector<KeySpec>& WakelistKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"mode", false, "mode: emulated-power"},
      {"cpus", false, "cpus: 4"},
      {"buggy_model", false, "buggy_model: pre-9fb1b36"},
      {"fixed_model", false, "fixed_model: 9fb1b36"},
      {"threshold_ticks", false, "threshold_ticks: 200000"},
  };
  return *keys;
}

const std::vector<KeySpec>& LostHostIpiKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"shape", false, "shape: 2"},
      {"mode", false, "mode: emulated-power"},
      {"cpus", false, "cpus: 4"},
      {"buggy_model", false, "buggy_model: v5.3"},
      {"fixed_model", false, "fixed_model: v5.4"},
      {"threshold", false, "threshold: 200000"},
      {"pin", false, "pin: 0-1"},
  };
  return *keys;
}

const std::vector<KeySpec>& PvSpinlockKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"spin_loops", false, "spin_loops: 1024"}, {"holder", false, "holder: 0"},
      {"irq_vcpu", false, "irq_vcpu: 1"},        {"task_vcpu", false, "task_vcpu: 2"},
      {"hold", false, "hold: 500us"},            {"think", false, "think: 200us"},
      {"irq_fraction", false, "irq_fraction: 0.5"},
  };
  return *keys;
}

const std::vector<KeySpec>& OfflineKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"target", false, "target: 1"},
      {"offline", false, "offline: 400ms"},
      {"online", false, "online: 20ms"},
      {"dying_window", false, "dying_window: 500us"},
      {"tick", false, "tick: 1ms"},
  };
  return *keys;
}

}  // namespace

absl::StatusOr<ReproduceSpec> ReproduceReader::ReadReproduce(const YAML::Node& r) const {
  RETURN_IF_ERROR(CheckMap(r, "reproduce", ReproduceKeys()));
  ReproduceSpec spec;
  spec.present = true;
  ASSIGN_OR_RETURN(spec.scenario, String(r["scenario"], "reproduce.scenario"));
  if (spec.scenario.empty()) {
    return Error(r["scenario"], "reproduce.scenario",
                 "name the scenario this profile is for; e.g. scenario: pvspinlock-kick");
  }
  if (r["buggy_budget"]) {
    ASSIGN_OR_RETURN(spec.buggy_budget,
                     PositiveDuration(r["buggy_budget"], "reproduce.buggy_budget"));
  }
  if (r["fixed_budget"]) {
    ASSIGN_OR_RETURN(spec.fixed_budget,
                     PositiveDuration(r["fixed_budget"], "reproduce.fixed_budget"));
  }
  if (r["fixed_operations"]) {
    ASSIGN_OR_RETURN(int ops, Int(r["fixed_operations"], "reproduce.fixed_operations", 0,
                                  2000000000));
    spec.fixed_operations = ops;
  }
  if (r["seed"]) {
    uint64_t seed = 0;
    if (!r["seed"].IsScalar() || !absl::SimpleAtoi(r["seed"].Scalar(), &seed)) {
      return Error(r["seed"], "reproduce.seed", "expected a whole number >= 0; e.g. seed: 1");
    }
    spec.seed = seed;
  }
  if (r["threshold"]) {
    ASSIGN_OR_RETURN(spec.threshold, PositiveDuration(r["threshold"], "reproduce.threshold"));
  }
  if (r["pvspinlock"]) {
    const YAML::Node p = r["pvspinlock"];
    RETURN_IF_ERROR(CheckMap(p, "reproduce.pvspinlock", PvSpinlockKeys()));
    if (p["spin_loops"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.spin_loops,
                       Int(p["spin_loops"], "reproduce.pvspinlock.spin_loops", 1, 1 << 24));
    }
    if (p["holder"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.holder, Int(p["holder"], "reproduce.pvspinlock.holder", 0, 63));
    }
    if (p["irq_vcpu"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.irq_vcpu,
                       Int(p["irq_vcpu"], "reproduce.pvspinlock.irq_vcpu", 0, 63));
    }
    if (p["task_vcpu"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.task_vcpu,
                       Int(p["task_vcpu"], "reproduce.pvspinlock.task_vcpu", 0, 63));
    }
    if (p["hold"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.hold, PositiveDuration(p["hold"], "reproduce.pvspinlock.hold"));
    }
    if (p["think"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.think, PositiveDuration(p["think"], "reproduce.pvspinlock.think"));
    }
    if (p["irq_fraction"]) {
      const YAML::Node n = p["irq_fraction"];
      double v = 0;
      if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || !(v > 0 && v <= 1)) {
        return Error(n, "reproduce.pvspinlock.irq_fraction",
                     "expected a fraction above 0, at most 1; e.g. 0.5 raises the io "
                     "interrupt in half of the holder's rounds");
      }
      spec.pvspinlock.irq_fraction = v;
    }
    if (spec.pvspinlock.holder == spec.pvspinlock.irq_vcpu || spec.pvspinlock.holder == spec.pvspinlock.task_vcpu ||
        spec.pvspinlock.irq_vcpu >= spec.pvspinlock.task_vcpu) {
      return Error(p, "reproduce.pvspinlock",
                   absl::StrFormat("holder %d, irq_vcpu %d, task_vcpu %d: use three different "
                                   "vCPUs with irq_vcpu < task_vcpu (the seed's CPU n-# is "
                                   "the first waiter in CPU order); e.g. 0, 1, 2",
                                   spec.pvspinlock.holder, spec.pvspinlock.irq_vcpu, spec.pvspinlock.task_vcpu));
    }
  }
  if (r["wakelist"]) RETURN_IF_ERROR(ReadWakelist(r, &spec));
  if (r["lost_host_ipi"]) RETURN_IF_ERROR(ReadLostHostIpi(r, &spec));
  if (r["offline"]) {
    const YAML::Node o = r["offline"];
    RETURN_IF_ERROR(CheckMap(o, "reproduce.offline", OfflineKeys()));
    if (o["target"]) {
      ASSIGN_OR_RETURN(spec.offline.target, Int(o["target"], "reproduce.offline.target", 0, 63));
    }
    if (o["offline"]) {
      ASSIGN_OR_RETURN(spec.offline.offline,
                       PositiveDuration(o["offline"], "reproduce.offline.offline"));
    }
    if (o["online"]) {
      ASSIGN_OR_RETURN(spec.offline.online, PositiveDuration(o["online"], "reproduce.offline.online"));
    }
    if (o["dying_window"]) {
      ASSIGN_OR_RETURN(spec.offline.dying_window,
                       PositiveDuration(o["dying_window"], "reproduce.offline.dying_window"));
    }
    if (o["tick"]) {
      ASSIGN_OR_RETURN(spec.offline.tick, PositiveDuration(o["tick"], "reproduce.offline.tick"));
    }
  }
  return spec;
}

absl::Status ReproduceReader::ReadWakelist(const YAML::Node& r, ReproduceSpec* spec) const {
  const YAML::Node w = r["wakelist"];
  RETURN_IF_ERROR(CheckMap(w, "reproduce.wakelist", WakelistKeys()));
  if (r["threshold"]) {
    return Error(r["threshold"], "reproduce.threshold",
                 "muxed-ipi-wakelist counts its hung-task threshold in virtual ticks; "
                 "write wakelist: {threshold_ticks: 200000} instead");
  }
  if (w["mode"]) {
    ASSIGN_OR_RETURN(spec->wakelist.mode, OrderingMode(w["mode"], "reproduce.wakelist.mode"));
  }
  if (w["cpus"]) {
    ASSIGN_OR_RETURN(spec->wakelist.cpus, Int(w["cpus"], "reproduce.wakelist.cpus", 2, 64));
  }
  if (w["buggy_model"]) {
    ASSIGN_OR_RETURN(spec->wakelist.buggy_model,
                     KernelModel(w["buggy_model"], "reproduce.wakelist.buggy_model"));
  }
  if (w["fixed_model"]) {
    ASSIGN_OR_RETURN(spec->wakelist.fixed_model,
                     KernelModel(w["fixed_model"], "reproduce.wakelist.fixed_model"));
  }
  if (w["threshold_ticks"]) {
    const YAML::Node n = w["threshold_ticks"];
    int64_t v = 0;
    if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v) || v < 1) {
      return Error(n, "reproduce.wakelist.threshold_ticks",
                   "expected a whole number of virtual ticks >= 1; e.g. threshold_ticks: "
                   "200000 (leave it out for the default)");
    }
    spec->wakelist.threshold_ticks = v;
  }
  return absl::OkStatus();
}

absl::Status ReproduceReader::ReadLostHostIpi(const YAML::Node& r, ReproduceSpec* spec) const {
  const YAML::Node h = r["lost_host_ipi"];
  RETURN_IF_ERROR(CheckMap(h, "reproduce.lost_host_ipi", LostHostIpiKeys()));
  if (r["threshold"]) {
    return Error(r["threshold"], "reproduce.threshold",
                 "lost-host-ipi counts its csd threshold in ns (native) or virtual ticks "
                 "(emulated); write lost_host_ipi: {threshold: 200000} instead");
  }
  if (h["shape"]) {
    ASSIGN_OR_RETURN(spec->lost_host_ipi.shape, Int(h["shape"], "reproduce.lost_host_ipi.shape", 1, 2));
  }
  if (h["mode"]) {
    ASSIGN_OR_RETURN(spec->lost_host_ipi.mode, OrderingMode(h["mode"], "reproduce.lost_host_ipi.mode"));
  }
  if (h["cpus"]) {
    ASSIGN_OR_RETURN(spec->lost_host_ipi.cpus, Int(h["cpus"], "reproduce.lost_host_ipi.cpus", 2, 64));
  }
  if (h["buggy_model"]) {
    ASSIGN_OR_RETURN(spec->lost_host_ipi.buggy_model,
                     KernelModel(h["buggy_model"], "reproduce.lost_host_ipi.buggy_model"));
  }
  if (h["fixed_model"]) {
    ASSIGN_OR_RETURN(spec->lost_host_ipi.fixed_model,
                     KernelModel(h["fixed_model"], "reproduce.lost_host_ipi.fixed_model"));
  }
  if (h["threshold"]) {
    const YAML::Node n = h["threshold"];
    int64_t v = 0;
    if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v) || v < 1) {
      return Error(n, "reproduce.lost_host_ipi.threshold",
                   "expected a whole number >= 1 (ns natively, virtual ticks emulated); "
                   "leave it out for the calibrated/default threshold");
    }
    spec->lost_host_ipi.threshold = v;
  }
  if (h["pin"]) {
    ASSIGN_OR_RETURN(std::string text, String(h["pin"], "reproduce.lost_host_ipi.pin"));
    absl::StatusOr<std::vector<int>> cpus = ParseCpuset(text);
    if (!cpus.ok()) {
      return Error(h["pin"], "reproduce.lost_host_ipi.pin",
                   absl::StrCat(cpus.status().message(), "; e.g. pin: 0-1"), QuoteOffset(h["pin"]));
    }
    spec->lost_host_ipi.pin = *cpus;
  }
  return absl::OkStatus();
}

absl::Status ReproduceReader::CheckReproduceAgainstVms(const YAML::Node& root,
                                                     const RunSpec& spec,
                                                     const ReproduceSpec& r) const {
  if (!r.present) return absl::OkStatus();
  for (const VmSpec& vm : spec.vms) {
    if (vm.vcpus > 64) {
      return Error(root["reproduce"], "reproduce",
                   absl::StrFormat("VM %s has %d vCPUs; reproduce scenarios take at most 64",
                                   vm.name, vm.vcpus));
    }
    const int top = std::max({r.pvspinlock.holder, r.pvspinlock.irq_vcpu, r.pvspinlock.task_vcpu});
    if (root["reproduce"]["pvspinlock"] && top >= vm.vcpus) {
      return Error(root["reproduce"]["pvspinlock"], "reproduce.pvspinlock",
                   absl::StrFormat("VM %s has only %d vCPUs but vCPU %d is named; use vCPUs "
                                   "0 to %d or raise vcpus",
                                   vm.name, vm.vcpus, top, vm.vcpus - 1));
    }
    if (root["reproduce"]["offline"] && (r.offline.target >= vm.vcpus || vm.vcpus < 2)) {
      return Error(root["reproduce"]["offline"], "reproduce.offline.target",
                   absl::StrFormat("VM %s has %d vCPUs; the target must be one of 0 to %d and "
                                   "at least one other vCPU must call it",
                                   vm.name, vm.vcpus, vm.vcpus - 1));
    }
  }
  return absl::OkStatus();
}

}  // namespace profile_internal
}  // namespace kvmbed
