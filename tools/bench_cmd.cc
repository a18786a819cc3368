// `kvmbed bench boot|...`: benchmarks that print their figures (medians and
// ranges from one run; these machines are shared and noisy).
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "vmm/boot_bench.h"

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

}  // namespace

int BenchCommand(const std::vector<std::string>& args) {
  const char* usage =
      "usage: kvmbed bench boot [--vcpus N] [--runs N]   VM creation -> all vCPUs online";
  if (args.size() != 1) return BadInput(usage);
  if (args[0] == "boot") return BenchBoot();
  return BadInput(absl::StrCat("bench: unknown benchmark '", args[0], "'\n", usage));
}

}  // namespace kvmbed
