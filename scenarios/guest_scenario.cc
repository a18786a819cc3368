#include "scenarios/guest_scenario.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "guest/image.h"
#include "base/cpuset.h"
#include "base/status_macros.h"
#include "scenarios/guest_scenario_internal.h"
#include "runner/ipi_latency.h"

namespace kvmbed {
namespace scenarios {
namespace repro_internal {

absl::Status CheckRun(const ScenarioProfile& run, const std::string& scenario, int min_vcpus) {
  RETURN_IF_ERROR(CheckScenarioProfile(run, scenario));
  if (run.vms.size() != 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %s runs one VM, the profile has %d; describe one VM at the top level",
        run.source, scenario, run.vms.size()));
  }
  if (run.vms[0].vcpus < min_vcpus || run.vms[0].vcpus > static_cast<int>(abi::kReproMaxVcpus)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: vcpus: %s needs %d to %d vCPUs, the profile has %d", run.source,
                        scenario, min_vcpus, abi::kReproMaxVcpus, run.vms[0].vcpus));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> Threshold(const ScenarioProfile& run, std::string* how) {
  if (run.reproduce.threshold > absl::ZeroDuration()) {
    *how = "profile";
    return run.reproduce.threshold;
  }
  ASSIGN_OR_RETURN(runner::Calibration c, runner::CalibrateThresholds(run.vms[0]));
  *how = absl::StrFormat("calibrated: IPI round trip p50 %.1f us, max %.1f us",
                         c.latency.Us(c.latency.p50), c.latency.Us(c.latency.max));
  return c.csd_timeout;
}

absl::StatusOr<std::unique_ptr<vmm::Machine>> BootReproVm(const VmSpec& vm, abi::Workload workload,
                                                     const abi::ReproParams& params,
                                                     absl::Duration csd_timeout, uint64_t seed,
                                                     vmm::MachineOptions options) {
  options.guest_elf = guest::Image();
  options.workload = workload;
  options.log_console = false;
  ASSIGN_OR_RETURN(std::unique_ptr<vmm::Machine> m, vmm::Machine::Create(vm, options));
  abi::SmpParams sp{};
  sp.csd_timeout_ns = static_cast<uint64_t>(absl::ToInt64Nanoseconds(csd_timeout));
  sp.seed = seed;
  sp.user_mode = 1;
  sp.fault_vcpu = abi::kAllVcpus;
  RETURN_IF_ERROR(m->memory().Write(abi::kSmpParamsGpa, &sp, sizeof(sp)));
  RETURN_IF_ERROR(m->memory().Write(abi::kReproParamsGpa, &params, sizeof(params)));
  absl::Status pin = PinThisThread(vm.emulator_affinity, "the VMM thread");
  (void)pin;  // best effort, as `kvmbed run` (the vCPUs are pinned regardless)
  RETURN_IF_ERROR(m->Start());
  RETURN_IF_ERROR(m->WaitOnline(absl::Seconds(20)));
  return m;
}

std::string RipOf(vmm::Machine& m, int vcpu) {
  absl::StatusOr<std::string> d = m.DescribeVcpu(vcpu, absl::Seconds(1));
  if (!d.ok()) return absl::StrCat("(no registers: ", d.status().message(), ")");
  std::vector<std::string> lines = absl::StrSplit(*d, '\n');
  std::string rip = lines.empty() ? *d : lines[0];
  size_t i = rip.find_first_not_of(' ');
  return i == std::string::npos ? rip : rip.substr(i);
}

Reproduction NewReproduction(const std::string& scenario, const std::string& unit) {
  const Scenario* info = FindScenario(scenario);
  Reproduction rep;
  rep.name = info->Name();
  rep.commit = info->Commit();
  rep.bug = info->Bug();
  rep.fix = info->Fix();
  rep.unit = unit;
  return rep;
}

uint64_t SeedOf(const ScenarioProfile& run, const GuestReproOptions& o) {
  if (o.seed_override > 0) return o.seed_override;
  if (run.reproduce.seed > 0) return run.reproduce.seed;
  return static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) | 1;
}

void Emit(const GuestReproOptions& o, const std::string& text) {
  if (o.out) o.out(text);
}

}  // namespace repro_internal

absl::StatusOr<Reproduction> GuestScenario::Run(const ScenarioInput& input) const {
  GuestReproOptions o;
  o.out = input.out;
  return fn_(input.profile, o);
}

absl::StatusOr<GuestReproBench> BenchGuestScenario(const GuestScenario& scenario,
                                                   const ScenarioProfile& run, int runs,
                                                   absl::Duration fixed_budget) {
  if (runs < 1) return absl::InvalidArgumentError("bench reproduce: runs must be >= 1");
  GuestReproBench b;
  b.name = scenario.Name();
  b.runs = runs;
  std::vector<double> secs, ops;
  double all_ops = 0, all_secs = 0;
  for (int i = 1; i <= runs; ++i) {
    GuestReproOptions o;
    o.run_fixed = false;
    o.seed_override = static_cast<uint64_t>(i);
    ASSIGN_OR_RETURN(Reproduction r, scenario.fn()(run, o));
    b.unit = r.unit;
    all_ops += static_cast<double>(r.buggy.operations);
    all_secs += r.buggy.seconds;
    if (!r.buggy.hung) continue;
    ++b.hung;
    secs.push_back(r.buggy.seconds_to_hang);
    ops.push_back(static_cast<double>(r.buggy.operations_to_hang));
  }
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  b.median_seconds_to_hang = median(secs);
  b.median_operations_to_hang = median(ops);
  if (!secs.empty()) {
    b.min_seconds_to_hang = *std::min_element(secs.begin(), secs.end());
    b.max_seconds_to_hang = *std::max_element(secs.begin(), secs.end());
  }
  b.operations_per_second = all_secs > 0 ? all_ops / all_secs : 0;
  if (fixed_budget > absl::ZeroDuration()) {
    ScenarioProfile fixed_run = run;
    fixed_run.reproduce.fixed_budget = fixed_budget;
    fixed_run.reproduce.fixed_operations = 0;
    GuestReproOptions o;
    o.run_buggy = false;
    ASSIGN_OR_RETURN(Reproduction r, scenario.fn()(fixed_run, o));
    b.fixed_seconds = r.fixed.seconds;
    b.fixed_operations = r.fixed.operations;
    b.fixed_hangs = r.fixed.hangs;
    b.fixed_operations_per_second =
        r.fixed.seconds > 0 ? static_cast<double>(r.fixed.operations) / r.fixed.seconds : 0;
  }
  return b;
}

std::string FormatGuestReproBench(const GuestReproBench& b) {
  std::string out = absl::StrFormat(
      "bench reproduce %s: buggy: %d/%d runs hung; time to hang median %.3f s (min %.3f, max "
      "%.3f); %s to hang median %.0f; %.0f %s/s\n",
      b.name, b.hung, b.runs, b.median_seconds_to_hang, b.min_seconds_to_hang,
      b.max_seconds_to_hang, b.unit, b.median_operations_to_hang, b.operations_per_second,
      b.unit);
  if (b.fixed_seconds > 0) {
    absl::StrAppendFormat(&out,
                          "bench reproduce %s: fixed: %d %s in %.3f s (%.0f %s/s), %d hangs\n",
                          b.name, b.fixed_operations, b.unit, b.fixed_seconds,
                          b.fixed_operations_per_second, b.unit, b.fixed_hangs);
  }
  return out;
}

}  // namespace scenarios
}  // namespace kvmbed
