// `kvmbed bench boot|...`: benchmarks that print their figures (medians and
// ranges from one run; these machines are shared and noisy).
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/common.h"
#include "vmm/boot_bench.h"
#include "vmm/ipi_bench.h"

namespace kvmbed {
namespace {

int BenchBoot() {
  vmm::BootBenchOptions opts;
  opts.vcpus = absl::GetFlag(FLAGS_vcpus);
  opts.runs = absl::GetFlag(FLAGS_runs);
  if (opts.vcpus < 1) return BadInput("bench boot: --vcpus must be at least 1");
  if (opts.runs < 1) return BadInput("bench boot: --runs must be at least 1");
  absl::StatusOr<vmm::BootBenchResult> r = vmm::RunBootBench(opts);
  if (!r.ok()) return BadInput(absl::StrCat("bench boot: ", r.status().message()));
  std::printf("%s\n", vmm::FormatBootBench(*r).c_str());
  return kExitClean;
}

// Between vCPUs 0 and 1 of the profile's first VM, pinned as it pins them;
// without a profile, vCPU 0 on the first host CPU kvmbed may use and vCPU 1
// on the second (the same pair kvm-unit-tests' `-smp 2` gets on an idle box).
int BenchIpi(const std::vector<std::string>& profile) {
  absl::StatusOr<RunSpec> spec = LoadRunSpec(profile);
  if (!spec.ok()) return BadInput(spec.status());
  if (profile.empty()) {
    const std::vector<int>& host = spec->host_cpus;
    VmSpec& vm = spec->vms[0];
    vm.vcpu_affinity[0] = {host[0]};
    vm.vcpu_affinity[1] = {host[1 % host.size()]};
  }
  int iterations = absl::GetFlag(FLAGS_iterations);
  if (iterations < 10) return BadInput("bench ipi: --iterations must be at least 10");
  absl::StatusOr<vmm::IpiBenchReport> r = vmm::RunIpiBenchSuite(spec->vms[0], iterations);
  if (!r.ok()) return BadInput(absl::StrCat("bench ipi: ", r.status().message()));
  std::printf("%s", vmm::FormatIpiBenchReport(*r).c_str());
  return kExitClean;
}

}  // namespace

int BenchCommand(const std::vector<std::string>& args) {
  const char* usage =
      "usage: kvmbed bench boot [--vcpus N] [--runs N]     VM creation -> all vCPUs online\n"
      "       kvmbed bench ipi [PROFILE] [--iterations N]   on_cpu IPI round trip, target hlt/spinning";
  if (args.empty()) return BadInput(usage);
  if (args[0] == "boot" && args.size() == 1) return BenchBoot();
  if (args[0] == "ipi") return BenchIpi({args.begin() + 1, args.end()});
  return BadInput(absl::StrCat("bench: unknown benchmark '", args[0], "'\n", usage));
}

}  // namespace kvmbed
