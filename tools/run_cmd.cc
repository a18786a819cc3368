// `kvmbed run [PROFILE]`: boot every VM of a profile on its pinned vCPU
// threads, run the profile's guest workload (idle when it has no `guest:`
// section) for its duration while the csd and soft-lockup watchdogs look on,
// then print the per-vCPU summary.
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "base/event_log.h"
#include "configs/profile.h"
#include "tools/commands.h"
#include "tools/common.h"
#include "tools/flags.h"
#include "base/stop_signal.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "runner/smp_run.h"
#include "runner/linux_run.h"

namespace kvmbed {
namespace {

void StopRunner(void* arg) { static_cast<runner::SmpRunner*>(arg)->RequestStop(); }
void StopLinux(void*) { runner::RequestLinuxRunStop(); }

// A profile with guest.kernel (or --guest-kernel) boots a Linux guest
// (runner/linux_run.h) instead of the built-in guest.
int RunLinux(const RunSpec& spec, LinuxGuestSpec linux, std::unique_ptr<EventLog> events) {
  if (!absl::GetFlag(FLAGS_system_map).empty()) linux.system_map = absl::GetFlag(FLAGS_system_map);
  std::printf("%s%s", KvmHostLine().c_str(), FormatRunSpec(spec).c_str());
  std::fflush(stdout);
  nlohmann::json start = {{"profile", spec.source}, {"name", spec.name}, {"workload", "linux"}};
  AddKvmHostFields(&start);
  events->Emit("run_start", start);
  OnStopSignal(StopLinux, nullptr);
  absl::StatusOr<runner::LinuxRunResult> r = runner::RunLinuxGuest(spec, linux, events.get());
  ClearStopCallbacks();
  if (!r.ok()) return BadInput(r.status());
  events->Emit("run_end", {{"exit_code", r->exit_code},
                           {"verdict", r->exit_code == 0 ? "SUCCESS" : "FAILURE"}});
  std::printf("%s\n", r->exit_code == 0 ? "run: SUCCESS" : "run: FAILURE");
  return r->exit_code;
}

}  // namespace

int RunCommand(const std::vector<std::string>& args) {
  absl::Status flags =
      OnlyFlags("run", {"fold_cpus", "duration", "events", "inject_fault", "fault_vcpu",
                        "guest_kernel", "system_map"});
  if (!flags.ok()) return BadInput(flags);
  absl::StatusOr<RunSpec> spec = LoadRunSpec(args);
  if (!spec.ok()) return BadInput(spec.status());
  LinuxGuestSpec* linux = &spec->guest.linux;
  if (!absl::GetFlag(FLAGS_guest_kernel).empty()) {
    linux->present = true;
    linux->kernel = absl::GetFlag(FLAGS_guest_kernel);
  }

  // Before the log opens: SIGXFSZ ignored (a file size limit gives EFBIG).
  InstallStopSignalHandler();
  std::unique_ptr<EventLog> events = EventLog::Null();
  if (!absl::GetFlag(FLAGS_events).empty()) {
    auto log = EventLog::Open(absl::GetFlag(FLAGS_events));
    if (!log.ok()) return BadInput(log.status());
    events = std::move(*log);
  }
  if (linux->present) return RunLinux(*spec, *linux, std::move(events));
  std::printf("%s%s", KvmHostLine().c_str(), FormatRunSpec(*spec).c_str());
  std::fflush(stdout);
  nlohmann::json start = {{"profile", spec->source},
                          {"name", spec->name},
                          {"duration_s", absl::ToDoubleSeconds(spec->duration)},
                          {"vms", spec->vms.size()},
                          {"host_cpus", spec->host_cpus},
                          {"cpus_folded", spec->cpus_folded},
                          {"workload", GuestWorkloadName(spec->guest.workload)}};
  AddKvmHostFields(&start);
  events->Emit("run_start", start);

  // --inject-fault applies to every VM's built-in guest, run-wide or its
  // own. Parsed here, where the guest check used to refuse a bad name, and
  // refused in its words: the same output and exit code as before.
  absl::StatusOr<abi::Fault> fault = vmm::ParseGuestFault(absl::GetFlag(FLAGS_inject_fault));
  if (!fault.ok()) {
    return BadInput(absl::StrCat("VM ", spec->vms.front().name,
                                 ": guest.inject_fault: ", fault.status().message()));
  }
  spec->guest.inject_fault = *fault;
  spec->guest.inject_fault_vcpu = absl::GetFlag(FLAGS_fault_vcpu);
  for (auto& [vm, guest] : spec->vm_guest) {
    guest.inject_fault = spec->guest.inject_fault;
    guest.inject_fault_vcpu = spec->guest.inject_fault_vcpu;
  }

  absl::StatusOr<std::vector<runner::SmpRunResult>> results = runner::RunGuestWorkloads(
      *spec, nullptr, events.get(),
      [](runner::SmpRunner& r) { OnStopSignal(StopRunner, &r); }, runner::SmpRunOptions(),
      // Unregister before the runners die: a late signal must not reach them.
      [] { ClearStopCallbacks(); });
  ClearStopCallbacks();
  if (!results.ok()) return BadInput(results.status());

  bool failed = false;
  bool host_error = false;  // KVM, guest RAM or pinning failed: no stall found
  for (const runner::SmpRunResult& r : *results) {
    std::printf("\n%s", vmm::FormatSummary(r.vm).c_str());
    events->Emit("vm_summary", runner::VmSummaryEventFields(r.vm));
    if (!r.success) {
      failed = true;
      host_error |= vmm::IsHostError(r.vm.error);
      std::fprintf(stderr, "\nkvmbed: vm '%s' failed: %s\n", r.vm.name.c_str(),
                   r.failure_reason.c_str());
      if (!r.vm.error.ok()) {
        std::fprintf(stderr, "%s\n", std::string(r.vm.error.message()).c_str());
      }
    }
  }
  int sig = StopSignalReceived();
  if (sig != 0) std::printf("\nstopped early by signal %d; the summary covers the run so far\n", sig);
  int code = failed ? kExitFound : kExitClean;
  if (host_error || !events->status().ok()) code = kExitBadInput;  // as soak does
  const char* verdict = host_error ? "host error" : code == kExitBadInput ? "event log failed"
                                                  : failed ? "FAILURE" : "SUCCESS";
  events->Emit("run_end", {{"exit_code", code}, {"signal", sig}, {"verdict", verdict}});
  if (!events->status().ok()) {
    std::fprintf(stderr, "kvmbed: %s\n", std::string(events->status().message()).c_str());
  }
  std::printf("run: %s (exit %d)\n", verdict, code);
  return code;
}

}  // namespace kvmbed
