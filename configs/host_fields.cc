// The host-side sections of a profile: `hostipi:` (the modelled host plane:
// kernel model, ordering, senders) and `host_stress:` (stress-ng, run by
// `kvmbed soak`), and the hostipi vocabulary they share with reproduce
// scenarios (ordering modes, kernel model strings).
#include "configs/profile_reader.h"

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/input.h"
#include "base/status_macros.h"
#include "hostipi/kernel_model.h"
#include "hostipi/ordering_mode.h"

namespace kvmbed {
namespace profile_internal {
namespace {

// Keys of `host_stress:` (RunSpec::host_stress; run by `kvmbed soak`).
const std::vector<KeySpec>& HostStressKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"cpu", false, "cpu: 4"},         {"io", false, "io: 4"},
      {"vm", false, "vm: 2"},           {"vm_bytes", false, "vm_bytes: 256M"},
      {"cpuset", false, "cpuset: \"0-3\""},
  };
  return *keys;
}

// Keys of the `hostipi:` section (RunSpec::hostipi, see configs/README.md).
const std::vector<KeySpec>& HostIpiKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"enabled", false, "enabled: true"},
      {"kernel_model", false, "kernel_model: v5.4"},
      {"ordering", false, "ordering: emulated-power"},
      {"store_hold", false, "store_hold: 1ms"},
      {"senders", false, "senders: {ksmd_threads: 1, ksmd_cpus: \"0\"}"},
      {"stall_threshold", false, "stall_threshold: 200ms"},
      {"resend_on_stall", false, "resend_on_stall: true"},
      {"seed", false, "seed: 1"},
  };
  return *keys;
}

const std::vector<KeySpec>& HostIpiSenderKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"ksmd_threads", false, "ksmd_threads: 1"},
      {"ksmd_cpus", false, "ksmd_cpus: \"0-1\""},
      {"ksmd_pause", false, "ksmd_pause: 200us"},
      {"vcpu_exit_calls", false, "vcpu_exit_calls: true"},
      {"exit_call_probability", false, "exit_call_probability: 0.5"},
      {"resched_fraction", false, "resched_fraction: 0.5"},
  };
  return *keys;
}

}  // namespace

absl::StatusOr<hostipi::OrderingMode> FieldReader::OrderingMode(
    const YAML::Node& n, const std::string& field) const {
  ASSIGN_OR_RETURN(std::string text, String(n, field));
  // Profiles take only the canonical spellings; ParseOrderingMode also
  // accepts other cases and "emulated_power" (command-line flags).
  using hostipi::kOrderingModeNames;
  std::optional<hostipi::OrderingMode> mode = kOrderingModeNames.Parse(text);
  if (!mode) {
    return Error(n, field,
                 absl::StrCat("'", Excerpt(text), "' is not a mode; use ",
                              kOrderingModeNames.Name(hostipi::OrderingMode::kEmulatedPower),
                              " (a seeded POWER store buffer) or ",
                              kOrderingModeNames.Name(hostipi::OrderingMode::kNative),
                              " (this machine's own ordering)"));
  }
  return *mode;
}

absl::StatusOr<hostipi::KernelModel> FieldReader::KernelModel(const YAML::Node& n,
                                                                const std::string& field) const {
  ASSIGN_OR_RETURN(std::string text, String(n, field));
  absl::StatusOr<hostipi::KernelModel> model = hostipi::KernelModel::Parse(text);
  if (!model.ok()) return Error(n, field, std::string(model.status().message()), QuoteOffset(n));
  return *model;
}

absl::Status HostReader::ReadHostStress(const YAML::Node& h, RunSpec* spec) const {
  RETURN_IF_ERROR(CheckMap(h, "host_stress", HostStressKeys()));
  HostStressSpec& hs = spec->host_stress;
  hs.enabled = true;
  if (h["cpu"]) {
    ASSIGN_OR_RETURN(hs.cpu, Int(h["cpu"], "host_stress.cpu", 0, 4096));
  }
  if (h["io"]) {
    ASSIGN_OR_RETURN(hs.io, Int(h["io"], "host_stress.io", 0, 4096));
  }
  if (h["vm"]) {
    ASSIGN_OR_RETURN(hs.vm, Int(h["vm"], "host_stress.vm", 0, 4096));
  }
  if (h["vm_bytes"]) {
    const YAML::Node n = h["vm_bytes"];
    ASSIGN_OR_RETURN(std::string text, String(n, "host_stress.vm_bytes"));
    absl::StatusOr<uint64_t> bytes = ParseMemorySize(text);
    if (!bytes.ok()) return Error(n, "host_stress.vm_bytes", std::string(bytes.status().message()));
    if (*bytes < 4096) return Error(n, "host_stress.vm_bytes", "use at least 4K; e.g. 256M");
    hs.vm_bytes = *bytes;
  }
  if (hs.cpu + hs.io + hs.vm == 0) {
    return Error(h, "host_stress",
                 "no stressor: give at least one of cpu, io, vm (or drop the section)");
  }
  if (h["cpuset"]) {
    ASSIGN_OR_RETURN(hs.cpus_as_written, Cpuset(h["cpuset"], "host_stress.cpuset", "cpuset"));
    ASSIGN_OR_RETURN(hs.cpus, ToHost(h["cpuset"], "host_stress.cpuset", hs.cpus_as_written));
  }
  hs.cpu = ScaleCount(hs.cpu, opts_.scale);
  hs.io = ScaleCount(hs.io, opts_.scale);
  hs.vm = ScaleCount(hs.vm, opts_.scale);
  hs.vm_bytes = ScaleBytes(hs.vm_bytes, opts_.scale);
  return absl::OkStatus();
}

absl::StatusOr<HostIpiSpec> HostReader::ReadHostIpi(const YAML::Node& h) const {
  RETURN_IF_ERROR(CheckMap(h, "hostipi", HostIpiKeys()));
  HostIpiSpec spec;
  spec.enabled = true;  // a section without `enabled:` asks for the plane
  if (h["enabled"]) {
    ASSIGN_OR_RETURN(spec.enabled, Bool(h["enabled"], "hostipi.enabled"));
  }
  if (h["kernel_model"]) {
    ASSIGN_OR_RETURN(std::string text, String(h["kernel_model"], "hostipi.kernel_model"));
    absl::StatusOr<hostipi::KernelModel> km = hostipi::KernelModel::Parse(text);
    if (!km.ok()) {
      return Error(h["kernel_model"], "hostipi.kernel_model", std::string(km.status().message()));
    }
    spec.kernel_model = *km;
  }
  if (h["ordering"]) {
    ASSIGN_OR_RETURN(spec.ordering, OrderingMode(h["ordering"], "hostipi.ordering"));
  }
  if (h["store_hold"]) {
    ASSIGN_OR_RETURN(spec.store_hold, PositiveDuration(h["store_hold"], "hostipi.store_hold"));
    if (spec.store_hold > absl::Seconds(1)) {
      return Error(h["store_hold"], "hostipi.store_hold",
                   "longer than 1s; a store buffer holds a store for microseconds to "
                   "milliseconds, e.g. store_hold: 1ms");
    }
    if (spec.ordering != hostipi::OrderingMode::kEmulatedPower) {
      return Error(h["store_hold"], "hostipi.store_hold",
                   "only means something with ordering: emulated-power; add it or drop "
                   "store_hold");
    }
  }
  if (h["senders"]) {
    const YAML::Node s = h["senders"];
    RETURN_IF_ERROR(CheckMap(s, "hostipi.senders", HostIpiSenderKeys()));
    if (s["ksmd_threads"]) {
      ASSIGN_OR_RETURN(spec.ksmd_threads,
                       Int(s["ksmd_threads"], "hostipi.senders.ksmd_threads", 0, 8));
    }
    if (s["ksmd_cpus"]) {
      ASSIGN_OR_RETURN(std::vector<int> cpus,
                       Cpuset(s["ksmd_cpus"], "hostipi.senders.ksmd_cpus", "host CPUs"));
      ASSIGN_OR_RETURN(spec.ksmd_cpus, ToHost(s["ksmd_cpus"], "hostipi.senders.ksmd_cpus", cpus));
    }
    if (s["ksmd_pause"]) {
      ASSIGN_OR_RETURN(spec.ksmd_pause,
                       PositiveDuration(s["ksmd_pause"], "hostipi.senders.ksmd_pause"));
    }
    if (s["vcpu_exit_calls"]) {
      ASSIGN_OR_RETURN(spec.vcpu_exit_calls,
                       Bool(s["vcpu_exit_calls"], "hostipi.senders.vcpu_exit_calls"));
    }
    for (const char* key : {"exit_call_probability", "resched_fraction"}) {
      if (!s[key]) continue;
      const YAML::Node n = s[key];
      double v = 0;
      if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || !(v >= 0 && v <= 1)) {
        return Error(n, absl::StrCat("hostipi.senders.", key),
                     "expected a fraction from 0 to 1; e.g. 0.5");
      }
      (std::string(key) == "resched_fraction" ? spec.resched_fraction
                                              : spec.exit_call_probability) = v;
    }
    if (spec.ksmd_threads == 0 && !spec.vcpu_exit_calls) {
      return Error(s, "hostipi.senders",
                   "no ksmd thread and vcpu_exit_calls off: nobody would send; set "
                   "ksmd_threads: 1 or vcpu_exit_calls: true");
    }
  }
  if (h["stall_threshold"]) {
    ASSIGN_OR_RETURN(spec.stall_threshold,
                     PositiveDuration(h["stall_threshold"], "hostipi.stall_threshold"));
  }
  if (h["resend_on_stall"]) {
    ASSIGN_OR_RETURN(spec.resend_on_stall, Bool(h["resend_on_stall"], "hostipi.resend_on_stall"));
  }
  if (h["seed"]) {
    uint64_t seed = 0;
    if (!h["seed"].IsScalar() || !absl::SimpleAtoi(h["seed"].Scalar(), &seed)) {
      return Error(h["seed"], "hostipi.seed", "expected a whole number >= 0; e.g. seed: 1");
    }
    spec.seed = seed;
  }
  return spec;
}

}  // namespace profile_internal
}  // namespace kvmbed
