#include "runner/ipi_latency.h"

#include <algorithm>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "guest/abi.h"
#include "guest/image.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace runner {

double IpiLatency::Us(uint64_t cycles) const {
  return tsc_khz ? static_cast<double>(cycles) * 1000.0 / tsc_khz : 0;
}

IpiLatency Summarize(std::vector<uint64_t>& cycles, uint32_t tsc_khz, const std::string& label) {
  IpiLatency l;
  l.label = label;
  l.tsc_khz = tsc_khz;
  l.samples = cycles.size();
  if (cycles.empty()) return l;
  std::sort(cycles.begin(), cycles.end());
  auto rank = [&](double q) {
    size_t i = static_cast<size_t>(q * cycles.size());
    return cycles[std::min(i, cycles.size() - 1)];
  };
  l.min = cycles.front();
  l.p50 = rank(0.50);
  l.p90 = rank(0.90);
  l.p99 = rank(0.99);
  l.max = cycles.back();
  unsigned __int128 sum = 0;
  for (uint64_t c : cycles) sum += c;
  l.mean = static_cast<uint64_t>(sum / cycles.size());
  return l;
}

VmSpec BenchVmSpec(const VmSpec& vm) {
  VmSpec b = vm;
  b.name = vm.name.empty() ? "ipi-bench" : vm.name + "-ipi-bench";
  b.vcpus = 2;
  b.topology = Topology{1, 2, 1};
  b.vcpu_affinity.clear();
  b.vcpu_pinned.clear();
  for (int i = 0; i < 2; ++i) {
    int src = i < static_cast<int>(vm.vcpu_affinity.size()) ? i : 0;
    b.vcpu_affinity.push_back(vm.vcpu_affinity.empty() ? std::vector<int>{}
                                                       : vm.vcpu_affinity[src]);
    b.vcpu_pinned.push_back(src < static_cast<int>(vm.vcpu_pinned.size()) && vm.vcpu_pinned[src]);
  }
  b.vcpupin_as_written.clear();
  return b;
}

absl::StatusOr<IpiLatency> RunIpiBench(const VmSpec& vm, const IpiBenchOptions& o) {
  if (vm.vcpus < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("bench ipi: VM ", vm.name, " has ", vm.vcpus,
                     " vCPU; the IPI round trip needs at least 2 (set vcpus: 2 or more)"));
  }
  if (o.sender < 0 || o.sender >= vm.vcpus || o.target < 0 || o.target >= vm.vcpus ||
      o.sender == o.target) {
    return absl::InvalidArgumentError(absl::StrCat("bench ipi: sender ", o.sender, " and target ",
                                                   o.target, " must be two different vCPUs of the ",
                                                   vm.vcpus, "-vCPU VM"));
  }
  if (o.iterations < 1 || o.warmup < 0) {
    return absl::InvalidArgumentError("bench ipi: iterations must be >= 1, warmup >= 0");
  }
  const uint64_t out_gpa = abi::SmpHeapBase(vm.vcpus);
  const uint64_t out_end = out_gpa + static_cast<uint64_t>(o.iterations) * 8;
  if (out_end > std::min<uint64_t>(vm.memory_bytes, abi::kLowMemLimit)) {
    return absl::InvalidArgumentError(absl::StrCat("bench ipi: ", o.iterations, " samples need ",
                                                   (out_end >> 20) + 1, " MiB of guest memory; VM ",
                                                   vm.name, " has ", vm.memory_bytes >> 20,
                                                   " MiB (raise memory or lower iterations)"));
  }
  vmm::MachineOptions mo;
  mo.guest_elf = guest::Image();
  mo.workload = abi::kWorkloadIpiBench;
  mo.log_console = false;
  // Keep the VMM's own thread quiet while the guest measures: every Run()
  // poll samples /proc for each vCPU thread, which steals CPU from the
  // vCPUs on a small host and shows up as millisecond tails.
  mo.poll_period = absl::Milliseconds(100);
  ASSIGN_OR_RETURN(std::unique_ptr<vmm::Machine> m, vmm::Machine::Create(vm, mo));
  abi::SmpParams p{};
  p.csd_timeout_ns = 60ull * 1000 * 1000 * 1000;  // reports would distort timing
  p.fault_vcpu = abi::kAllVcpus;
  p.bench_sender = static_cast<uint32_t>(o.sender);
  p.bench_target = static_cast<uint32_t>(o.target);
  p.bench_target_spins = o.target_spins ? 1 : 0;
  p.bench_path = o.path == IpiPath::kOnCpu ? abi::kBenchOnCpu : abi::kBenchCsd;
  p.bench_iterations = static_cast<uint64_t>(o.iterations);
  p.bench_warmup = static_cast<uint64_t>(o.warmup);
  p.bench_out_gpa = out_gpa;
  p.seed = 1;
  RETURN_IF_ERROR(m->memory().Write(abi::kSmpParamsGpa, &p, sizeof(p)));
  ASSIGN_OR_RETURN(abi::BootParams bp, m->memory().ReadAs<abi::BootParams>(abi::kBootParamsGpa));
  if (bp.tsc_khz == 0) {
    return absl::FailedPreconditionError(
        "bench ipi: KVM_GET_TSC_KHZ gave no TSC frequency; cannot convert cycles to time");
  }
  absl::Status s = m->Start();
  if (s.ok()) s = m->WaitOnline(absl::Seconds(10));
  const absl::Time deadline = absl::Now() + o.timeout;
  while (s.ok()) {
    auto st = m->memory().ReadAs<abi::SmpStatus>(abi::SmpStatusGpa(o.sender));
    if (!st.ok()) {
      s = st.status();
      break;
    }
    if (st->finished) break;
    if (absl::Now() >= deadline) {
      auto t = m->memory().ReadAs<abi::SmpStatus>(abi::SmpStatusGpa(o.target));
      auto csd = m->memory().ReadAs<abi::Csd>(abi::CsdGpa(vm.vcpus, o.sender, o.target));
      s = absl::DeadlineExceededError(absl::StrFormat(
          "bench ipi: the sender did not finish %d round trips in %s: it sent %d IPIs, "
          "is %s (csd flags 0x%x seq %d); the target took %d IPIs, handled %d csds, "
          "queue 0x%x, is %s",
          o.iterations, absl::FormatDuration(o.timeout), st->count[abi::kCntIpisSent],
          st->where == abi::kWhereCsdWait ? "waiting in csd_lock_wait" : "elsewhere",
          csd.ok() ? uint32_t{csd->flags} : 0u, csd.ok() ? uint64_t{csd->seq} : 0u,
          t.ok() ? uint64_t{t->count[abi::kCntIpiIrqs]} : 0u,
          t.ok() ? uint64_t{t->count[abi::kCntCsdHandled]} : 0u, t.ok() ? uint64_t{t->queue} : 0u,
          t.ok() && t->where == abi::kWhereIdle ? "idle" : "busy"));
      break;
    }
    s = m->Run(absl::Milliseconds(100));
  }
  std::vector<uint64_t> cycles(static_cast<size_t>(o.iterations));
  if (s.ok()) s = m->memory().Read(out_gpa, cycles.data(), cycles.size() * 8);
  vmm::VmSummary summary = m->Shutdown();
  if (!s.ok()) return s;
  if (!summary.error.ok()) return summary.error;
  return Summarize(
      cycles, static_cast<uint32_t>(bp.tsc_khz),
      absl::StrCat(o.path == IpiPath::kOnCpu ? "on_cpu" : "csd (smp_call_function_single)",
                   o.target_spins ? ", target spinning" : ", target idle (hlt)"));
}

absl::StatusOr<IpiBenchReport> RunIpiBenchSuite(const VmSpec& profile_vm, int iterations) {
  if (profile_vm.vcpus < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bench ipi: VM ", profile_vm.name, " has ", profile_vm.vcpus,
        " vCPU; the IPI round trip needs at least 2 (set vcpus: 2 or more)"));
  }
  // Only vCPUs 0 and 1 take part: a lean 2-vCPU VM with their pinning.
  const VmSpec vm = BenchVmSpec(profile_vm);
  IpiBenchOptions o;
  o.iterations = iterations;
  IpiBenchReport r;
  ASSIGN_OR_RETURN(r.hlt, RunIpiBench(vm, o));
  o.target_spins = true;
  ASSIGN_OR_RETURN(r.spin, RunIpiBench(vm, o));
  o.path = IpiPath::kCsd;
  ASSIGN_OR_RETURN(r.csd_spin, RunIpiBench(vm, o));
  o.target_spins = false;
  ASSIGN_OR_RETURN(r.csd_hlt, RunIpiBench(vm, o));
  return r;
}

std::string FormatIpiBenchReport(const IpiBenchReport& r) {
  return absl::StrCat(FormatIpiLatency(r.csd_hlt), FormatIpiLatency(r.csd_spin),
                      FormatIpiLatency(r.spin), FormatIpiLatency(r.hlt));
}

std::string FormatIpiLatency(const IpiLatency& l) {
  auto fig = [&](const char* name, uint64_t c) {
    return absl::StrFormat("%s %d cycles (%.2f us)", name, c, l.Us(c));
  };
  return absl::StrFormat(
      "ipi round trip, %s: %d samples, TSC %d kHz\n"
      "  %s  %s  %s  %s  min %d\n"
      "  mean %d cycles (%.2f us)\n"
      "ipi %d\n",
      l.label, l.samples, l.tsc_khz, fig("p50", l.p50), fig("p90", l.p90), fig("p99", l.p99),
      fig("max", l.max), l.min, l.mean, l.Us(l.mean), l.mean);
}

double Overcommit(const VmSpec& vm) {
  std::set<int> cpus;
  for (const auto& a : vm.vcpu_affinity) cpus.insert(a.begin(), a.end());
  if (cpus.empty()) return 1;
  return std::max(1.0, static_cast<double>(vm.vcpus) / cpus.size());
}

Calibration ThresholdsFrom(const IpiLatency& l, double overcommit) {
  Calibration c;
  c.latency = l;
  c.overcommit = std::max(1.0, overcommit);
  // Generous against this host's own tail: a thousand typical round trips
  // or fifty of the worst seen in the calibration, never under 50 ms (these
  // hosts stall threads for tens of ms now and then; see docs/DESIGN.md).
  double us = std::max(1000.0 * l.Us(l.p50), 50.0 * l.Us(l.max));
  c.csd_timeout = std::max(absl::Milliseconds(50), absl::Microseconds(static_cast<int64_t>(us)));
  c.csd_timeout = c.csd_timeout * c.overcommit;
  c.soft_lockup_threshold = 4 * c.csd_timeout;
  return c;
}

absl::StatusOr<Calibration> CalibrateThresholds(const VmSpec& vm, int iterations) {
  IpiBenchOptions o;
  o.path = IpiPath::kCsd;
  o.iterations = iterations;
  o.warmup = 20;
  ASSIGN_OR_RETURN(IpiLatency l, RunIpiBench(BenchVmSpec(vm), o));
  return ThresholdsFrom(l, Overcommit(vm));
}

}  // namespace runner
}  // namespace kvmbed
