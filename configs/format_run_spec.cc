// FormatRunSpec (configs/profile.h): a validated run described for people.
#include "configs/profile.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "base/cpuset.h"

namespace kvmbed {
std::string FormatRunSpec(const RunSpec& spec) {
  std::string out = absl::StrFormat(
      "run %s (%s): %s, host CPUs %s%s\n", spec.name, spec.source,
      absl::FormatDuration(spec.duration),
      spec.host_cpus.empty() ? "unchecked" : FormatCpuset(spec.host_cpus),
      spec.cpus_folded ? ", profile CPUs folded (--fold-cpus)" : "");
  for (const VmSpec& vm : spec.vms) {
    absl::StrAppendFormat(
        &out, "  VM %s: %d vCPUs (sockets=%d cores=%d threads=%d), memory %s\n",
        vm.name, vm.vcpus, vm.topology.sockets, vm.topology.cores,
        vm.topology.threads, FormatMemorySize(vm.memory_bytes));
    // The profile's (unfolded) CPUs per vCPU, for folded runs.
    std::vector<std::vector<int>> written(vm.vcpus);
    for (const VcpuPin& pin : vm.vcpupin_as_written) {
      for (int v : pin.vcpus) {
        if (v >= 0 && v < vm.vcpus) written[v] = pin.cpus;
      }
    }
    for (int v = 0; v < vm.vcpus;) {
      int w = v;
      auto same = [&](int a, int b) {
        return vm.vcpu_affinity[a] == vm.vcpu_affinity[b] &&
               vm.vcpu_pinned[a] == vm.vcpu_pinned[b] &&
               written[a] == written[b];
      };
      while (w + 1 < vm.vcpus && same(v, w + 1)) ++w;
      std::string who =
          w == v ? absl::StrCat("vCPU ", v) : absl::StrCat("vCPUs ", v, "-", w);
      std::string cpus =
          vm.vcpu_affinity[v].empty()
              ? std::string("any CPU")
              : absl::StrCat("CPUs ", FormatCpuset(vm.vcpu_affinity[v]));
      absl::StrAppend(&out, "    ", who, vm.vcpu_pinned[v] ? "" : " unpinned",
                      ": ", cpus);
      if (spec.cpus_folded && vm.vcpu_pinned[v]) {
        absl::StrAppend(&out, " (profile: ", FormatCpuset(written[v]), ")");
      }
      absl::StrAppend(&out, "\n");
      v = w + 1;
    }
    if (!vm.emulatorpin_as_written.empty()) {
      absl::StrAppend(&out, "    emulator threads: CPUs ",
                      FormatCpuset(vm.emulator_affinity));
      if (spec.cpus_folded) {
        absl::StrAppend(
            &out, " (profile: ", FormatCpuset(vm.emulatorpin_as_written), ")");
      }
      absl::StrAppend(&out, "\n");
    }
  }
  return out;
}

}  // namespace kvmbed
