// The `guest:` section for the built-in guest (RunSpec::guest and
// RunSpec::vm_guest): workload, weights, stress, thresholds and fault
// injection, and the checks of a guest section against its VM. The Linux
// guest fields of the same section are read by linux_guest_fields.cc.
#include "configs/profile_reader.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/input.h"
#include "base/status_macros.h"

namespace kvmbed {
namespace profile_internal {
namespace {

// Keys of the `guest:` section (RunSpec::guest, see configs/README.md).
const std::vector<KeySpec>& GuestKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"workload", false, "workload: torture"},
      {"ops_per_vcpu", false, "ops_per_vcpu: 10000"},
      {"nthreads", false, "nthreads: 2"},
      {"ring", false, "ring: auto"},
      {"weights", false, "weights: {single: 4, many_wait: 1}"},
      {"stress", false, "stress: {cpu: 2, io: 1, vm: 1, vm_bytes: 16M}"},
      {"csd_timeout", false, "csd_timeout: 200ms"},
      {"soft_lockup", false, "soft_lockup: 1s"},
      {"csd_resend", false, "csd_resend: true"},
      {"stat_interval", false, "stat_interval: 5s"},
      {"seed", false, "seed: 42"},
      {"fault", false, "fault: {vcpu: 1, drop_ipi_fraction: 0.01}"},
      // A Linux guest (read by runner/linux_run.cc; docs/linux-guests.md).
      {"kernel", false, "kernel: default"},
      {"initrd", false, "initrd: /var/cache/kvmbed/linux/initramfs.cpio.gz"},
      {"cmdline", false, "cmdline: \"console=ttyS0 nokaslr\""},
      {"system_map", false, "system_map: System.map"},
      {"commands", false, "commands: [\"stress-ng --cpu 4 -t 10s\"]"},
      {"withhold", false, "withhold: {vcpu: 1, after: 2s, for: 40s}"},
      {"csd_threshold", false, "csd_threshold: 5s"},
      {"sample_hz", false, "sample_hz: 20"},
      {"timeout", false, "timeout: 600s"},
      {"console_log", false, "console_log: /tmp/console.log"},
  };
  return *keys;
}

const std::vector<KeySpec>& WeightKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"resched", false, "resched: 8"},     {"single", false, "single: 8"},
      {"single_wait", false, "single_wait: 8"}, {"many", false, "many: 2"},
      {"many_wait", false, "many_wait: 2"}, {"all", false, "all: 1"},
      {"all_wait", false, "all_wait: 1"},
  };
  return *keys;
}

const std::vector<KeySpec>& StressKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"cpu", false, "cpu: 2"},         {"io", false, "io: 1"},
      {"vm", false, "vm: 1"},           {"vm_bytes", false, "vm_bytes: 16M"},
      {"io_dir", false, "io_dir: /tmp"},
  };
  return *keys;
}

const std::vector<KeySpec>& FaultKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"vcpu", false, "vcpu: 1"},
      {"drop_ipi_fraction", false, "drop_ipi_fraction: 0.01"},
      {"handler_delay", false, "handler_delay: 100ms"},
  };
  return *keys;
}

}  // namespace

absl::StatusOr<GuestSpec> GuestReader::ReadGuest(const YAML::Node& g,
                                                   const std::string& field) const {
  RETURN_IF_ERROR(CheckMap(g, field, GuestKeys()));
  GuestSpec spec;
  if (g["workload"]) {
    ASSIGN_OR_RETURN(std::string text, String(g["workload"], field + ".workload"));
    absl::StatusOr<GuestWorkload> workload = ParseGuestWorkload(text);
    if (!workload.ok()) {
      return Error(g["workload"], field + ".workload", std::string(workload.status().message()));
    }
    spec.workload = *workload;
  }
  if (g["ops_per_vcpu"]) {
    ASSIGN_OR_RETURN(int ops, Int(g["ops_per_vcpu"], field + ".ops_per_vcpu", 0, 1000000000));
    spec.ops_per_vcpu = static_cast<uint64_t>(ops);
  }
  if (g["ring"] && !(g["ring"].IsScalar() && g["ring"].Scalar() == "auto")) {
    ASSIGN_OR_RETURN(spec.ring, Int(g["ring"], field + ".ring", 0, 3));
    if (spec.ring != 0 && spec.ring != 3) {
      return Error(g["ring"], field + ".ring",
                   "use auto (the default: 3 on kvm_pvm, 0 on VMX/SVM), 3 (the op loop in "
                   "user mode, fast on kvm_pvm) or 0 (kernel mode)");
    }
  }
  if (g["nthreads"]) {
    ASSIGN_OR_RETURN(spec.nthreads, Int(g["nthreads"], field + ".nthreads", 0, 256));
  }
  if (g["weights"]) {
    const YAML::Node w = g["weights"];
    RETURN_IF_ERROR(CheckMap(w, field + ".weights", WeightKeys()));
    const std::vector<KeySpec>& keys = WeightKeys();
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!w[keys[i].key]) continue;
      ASSIGN_OR_RETURN(spec.weights[i], Int(w[keys[i].key], Join(field + ".weights", keys[i].key),
                                            0, 1000000));
    }
  }
  if (g["stress"]) {
    const YAML::Node st = g["stress"];
    RETURN_IF_ERROR(CheckMap(st, field + ".stress", StressKeys()));
    if (st["cpu"]) {
      ASSIGN_OR_RETURN(spec.stress_cpu, Int(st["cpu"], field + ".stress.cpu", 0, 1024));
    }
    if (st["io"]) {
      ASSIGN_OR_RETURN(spec.stress_io, Int(st["io"], field + ".stress.io", 0, 1024));
    }
    if (st["vm"]) {
      ASSIGN_OR_RETURN(spec.stress_vm, Int(st["vm"], field + ".stress.vm", 0, 1024));
    }
    if (st["vm_bytes"]) {
      ASSIGN_OR_RETURN(std::string text, String(st["vm_bytes"], field + ".stress.vm_bytes"));
      absl::StatusOr<uint64_t> bytes = ParseMemorySize(text);
      if (!bytes.ok()) return Error(st["vm_bytes"], field + ".stress.vm_bytes", std::string(bytes.status().message()));
      if (*bytes < 4096 || *bytes % 4096 != 0) {
        return Error(st["vm_bytes"], field + ".stress.vm_bytes",
                     "use a multiple of 4K, at least 4K; e.g. 16M");
      }
      spec.stress_vm_bytes = *bytes;
    }
    if (st["io_dir"]) {
      ASSIGN_OR_RETURN(spec.io_scratch_dir, String(st["io_dir"], field + ".stress.io_dir"));
    }
  }
  if (g["csd_timeout"]) {
    ASSIGN_OR_RETURN(spec.csd_timeout, PositiveDuration(g["csd_timeout"], field + ".csd_timeout"));
  }
  if (g["soft_lockup"]) {
    ASSIGN_OR_RETURN(spec.soft_lockup_threshold,
                     PositiveDuration(g["soft_lockup"], field + ".soft_lockup"));
  }
  if (g["csd_resend"]) {
    ASSIGN_OR_RETURN(spec.csd_resend, Bool(g["csd_resend"], field + ".csd_resend"));
  }
  if (g["stat_interval"]) {
    ASSIGN_OR_RETURN(spec.stat_interval, PositiveDuration(g["stat_interval"], field + ".stat_interval"));
  }
  if (g["seed"]) {
    uint64_t seed = 0;
    if (!g["seed"].IsScalar() || !absl::SimpleAtoi(g["seed"].Scalar(), &seed)) {
      return Error(g["seed"], field + ".seed", "expected a whole number >= 0; e.g. seed: 42");
    }
    spec.seed = seed;
  }
  if (g["fault"]) {
    const YAML::Node f = g["fault"];
    RETURN_IF_ERROR(CheckMap(f, field + ".fault", FaultKeys()));
    if (f["vcpu"]) {
      if (f["vcpu"].IsScalar() && f["vcpu"].Scalar() == "all") {
        spec.fault_vcpu = -1;
      } else {
        ASSIGN_OR_RETURN(spec.fault_vcpu,
                         Int(f["vcpu"], field + ".fault.vcpu", 0, 255));
      }
    }
    if (f["drop_ipi_fraction"]) {
      const YAML::Node n = f["drop_ipi_fraction"];
      double v = 0;
      if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || !(v >= 0 && v <= 1)) {
        return Error(n, field + ".fault.drop_ipi_fraction",
                     "expected a fraction from 0 to 1; e.g. 0.01 drops one IPI in a hundred");
      }
      spec.drop_ipi_fraction = v;
    }
    if (f["handler_delay"]) {
      ASSIGN_OR_RETURN(spec.handler_delay,
                       PositiveDuration(f["handler_delay"], field + ".fault.handler_delay"));
    }
  }
  spec.stress_cpu = ScaleCount(spec.stress_cpu, opts_.scale);
  spec.stress_io = ScaleCount(spec.stress_io, opts_.scale);
  spec.stress_vm = ScaleCount(spec.stress_vm, opts_.scale);
  spec.stress_vm_bytes = ScaleBytes(spec.stress_vm_bytes, opts_.scale);
  ASSIGN_OR_RETURN(spec.linux, ReadLinuxFields(g, field));
  return spec;
}

absl::Status GuestReader::CheckGuestAgainstVms(const YAML::Node& root,
                                                 const RunSpec& spec) const {
  for (size_t i = 0; i < spec.vms.size(); ++i) {
    const VmSpec& vm = spec.vms[i];
    const GuestSpec& g = spec.GuestFor(vm.name);
    // The guest section that applies: the VM's own, else the run's.
    const bool own = spec.vm_guest.count(vm.name) > 0;
    const YAML::Node gnode = own ? root["vms"][i]["guest"] : root["guest"];
    const std::string gfield = own ? Join(Index("vms", i), "guest") : "guest";
    if (g.nthreads > vm.vcpus) {
      return Error(gnode["nthreads"], gfield + ".nthreads",
                   absl::StrFormat("VM %s has only %d vCPUs; use 0 (every vCPU) to %d", vm.name,
                                   vm.vcpus, vm.vcpus));
    }
    if (g.fault_vcpu >= vm.vcpus) {
      return Error(gnode["fault"]["vcpu"], gfield + ".fault.vcpu",
                   absl::StrFormat("VM %s has only %d vCPUs; use 0 to %d or 'all'", vm.name,
                                   vm.vcpus, vm.vcpus - 1));
    }
    // Per-VM RAM: the SMP area (256 KiB of status and message slots, then
    // vcpus^2 * 64 bytes of csds) from 16 MiB up, 2 MiB aligned, then the
    // vm workers (guest/abi.h SmpHeapBase).
    uint64_t csd_end = (16ull << 20) + (256ull << 10) +
                       static_cast<uint64_t>(vm.vcpus) * vm.vcpus * 64;
    csd_end = (csd_end + (2ull << 20) - 1) & ~((2ull << 20) - 1);
    uint64_t need = csd_end + static_cast<uint64_t>(g.stress_vm) * g.stress_vm_bytes;
    if (g.workload == GuestWorkload::kTorture && need > std::min<uint64_t>(vm.memory_bytes, 3ull << 30)) {
      return Error(gnode, gfield + ".stress",
                   absl::StrFormat("VM %s needs %d MiB of RAM below 3 GiB for this guest "
                                   "workload but has %d MiB; raise its memory or lower "
                                   "stress.vm / stress.vm_bytes (kvmbed soak --scale F "
                                   "scales them, e.g. --scale 0.25)",
                                   vm.name, (need >> 20) + 1,
                                   std::min<uint64_t>(vm.memory_bytes, 3ull << 30) >> 20));
    }
  }
  return absl::OkStatus();
}

}  // namespace profile_internal
}  // namespace kvmbed
