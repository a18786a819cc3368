#include "bench/boot_bench.h"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "guest/image.h"
#include "base/cpuset.h"
#include "base/status_macros.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace bench {

absl::StatusOr<BootBenchResult> RunBootBench(const BootBenchOptions& options) {
  if (options.runs < 1) {
    return absl::InvalidArgumentError("boot bench: runs must be >= 1");
  }
  std::vector<int> cpus = options.host_cpus;
  if (cpus.empty()) {
    ASSIGN_OR_RETURN(cpus, ProcessCpus());
  }
  VmSpec spec;
  spec.name = absl::StrCat("bootbench-", options.vcpus);
  spec.vcpus = options.vcpus;
  spec.topology = Topology{1, options.vcpus, 1};
  spec.memory_bytes = options.memory_bytes;
  spec.vcpu_affinity.assign(options.vcpus, cpus);
  spec.vcpu_pinned.assign(options.vcpus, false);

  vmm::MachineOptions mopts;
  mopts.guest_elf = guest::Image();
  mopts.log_console = false;
  BootBenchResult result;
  result.vcpus = options.vcpus;
  for (int run = 0; run < options.runs; ++run) {
    ASSIGN_OR_RETURN(std::unique_ptr<vmm::Machine> m, vmm::Machine::Create(spec, mopts));
    RETURN_IF_ERROR(m->Start());
    RETURN_IF_ERROR(m->WaitOnline(options.boot_timeout));
    vmm::VmSummary s = m->Shutdown();
    if (!s.error.ok()) return s.error;
    result.samples.push_back(s.boot_time);
  }
  std::vector<absl::Duration> sorted = result.samples;
  std::sort(sorted.begin(), sorted.end());
  size_t n = sorted.size();
  result.median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  result.min = sorted.front();
  result.max = sorted.back();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  result.peak_rss_kib = ru.ru_maxrss;
  return result;
}

std::string FormatBootBench(const BootBenchResult& r) {
  return absl::StrFormat(
      "boot %d vCPUs (VM creation -> every vCPU online): median %.1f ms, "
      "range %.1f..%.1f ms over %d runs; peak RSS %d KiB",
      r.vcpus, absl::ToDoubleMilliseconds(r.median), absl::ToDoubleMilliseconds(r.min),
      absl::ToDoubleMilliseconds(r.max), static_cast<int>(r.samples.size()),
      r.peak_rss_kib);
}

}  // namespace bench
}  // namespace kvmbed
