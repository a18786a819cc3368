// `kvmbed run [PROFILE]`: boot every VM of a profile on its pinned vCPU
// threads, run for the profile's duration, print the per-vCPU summary.
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/event_log.h"
#include "base/log.h"
#include "configs/profile.h"
#include "tools/commands.h"
#include "tools/common.h"
#include "tools/flags.h"
#include "tools/stop_signal.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace {

nlohmann::json VmSummaryJson(const vmm::VmSummary& s) {
  nlohmann::json vcpus = nlohmann::json::array();
  for (const vmm::VcpuSummary& v : s.vcpu) {
    vcpus.push_back({{"vcpu", v.id},
                     {"pinned", v.pinned},
                     {"affinity_requested", v.affinity_requested},
                     {"affinity_in_force", v.affinity_in_force},
                     {"ran_on", v.ran_on},
                     {"exits", v.exits},
                     {"kicks", v.kicks},
                     {"heartbeats", v.heartbeats},
                     {"state", v.state}});
  }
  return {{"vm", s.name},
          {"vcpus", s.vcpus},
          {"memory_bytes", s.memory_bytes},
          {"all_online", s.all_online},
          {"boot_ms", absl::ToDoubleMilliseconds(s.boot_time)},
          {"run_s", absl::ToDoubleSeconds(s.run_time)},
          {"error", s.error.ok() ? "" : std::string(s.error.message())},
          {"per_vcpu", vcpus}};
}

// One VM's life on its own owner thread.
struct VmRun {
  const VmSpec* spec = nullptr;
  std::unique_ptr<vmm::Machine> machine;
  absl::Status setup;  // Create() error: bad input or setup failure
  vmm::VmSummary summary;
};

// --inject-fault NAME -> the guest's deliberate fault.
absl::StatusOr<abi::Fault> FaultFromFlag(const std::string& name) {
  static const std::pair<const char*, abi::Fault> kFaults[] = {
      {"", abi::kFaultNone},          {"triple", abi::kFaultTriple},
      {"ud", abi::kFaultUd},          {"gp", abi::kFaultGp},
      {"page", abi::kFaultPage},      {"divide", abi::kFaultDivide},
      {"bad-port", abi::kFaultBadPort}, {"mmio", abi::kFaultMmio},
  };
  std::vector<std::string> names;
  for (const auto& f : kFaults) {
    if (name == f.first) return f.second;
    if (*f.first) names.push_back(f.first);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--inject-fault: unknown fault '", name, "'; use one of ", absl::StrJoin(names, ", ")));
}

void StopMachine(void* arg) { static_cast<vmm::Machine*>(arg)->RequestStop(); }

}  // namespace

int RunCommand(const std::vector<std::string>& args) {
  absl::StatusOr<RunSpec> spec = LoadRunSpec(args);
  if (!spec.ok()) return BadInput(spec.status());

  vmm::MachineOptions options;
  absl::StatusOr<abi::Fault> fault = FaultFromFlag(absl::GetFlag(FLAGS_inject_fault));
  if (!fault.ok()) return BadInput(fault.status());
  options.fault = *fault;
  options.fault_vcpu = absl::GetFlag(FLAGS_fault_vcpu);

  std::unique_ptr<EventLog> events = EventLog::Null();
  if (!absl::GetFlag(FLAGS_events).empty()) {
    auto log = EventLog::Open(absl::GetFlag(FLAGS_events));
    if (!log.ok()) return BadInput(log.status());
    events = std::move(*log);
  }
  std::printf("%s", FormatRunSpec(*spec).c_str());
  std::fflush(stdout);
  events->Emit("run_start", {{"profile", spec->source},
                             {"name", spec->name},
                             {"duration_s", absl::ToDoubleSeconds(spec->duration)},
                             {"vms", spec->vms.size()},
                             {"cpus_folded", spec->cpus_folded}});

  InstallStopSignalHandler();
  std::vector<VmRun> runs(spec->vms.size());
  // Create every VM first, so a bad spec stops the run before anything runs.
  for (size_t i = 0; i < runs.size(); ++i) {
    runs[i].spec = &spec->vms[i];
    auto m = vmm::Machine::Create(spec->vms[i], options);
    if (!m.ok()) {
      ClearStopCallbacks();
      return BadInput(absl::StrCat(spec->source, ": vm '", spec->vms[i].name,
                                   "': ", m.status().message()));
    }
    runs[i].machine = std::move(*m);
    OnStopSignal(StopMachine, runs[i].machine.get());
  }
  std::vector<std::thread> owners;
  for (VmRun& r : runs) {
    owners.emplace_back([&r, &spec, &events] {
      vmm::Machine& m = *r.machine;
      // The VMM's own thread for this VM obeys emulatorpin.
      absl::Status pin = vmm::PinCurrentThread(r.spec->emulator_affinity);
      if (!pin.ok()) KLOG(Warning, "vm %s: emulatorpin: %s", r.spec->name, pin.message());
      absl::Status s = m.Start();
      if (s.ok()) s = m.WaitOnline(absl::Seconds(20));
      if (s.ok()) {
        events->Emit("vm_online", {{"vm", r.spec->name},
                                   {"boot_ms", absl::ToDoubleMilliseconds(
                                                   m.Snapshot().boot_time)}});
        s = m.Run(spec->duration);
      }
      r.summary = m.Shutdown();
      if (!s.ok() && r.summary.error.ok()) r.summary.error = s;
    });
  }
  for (std::thread& t : owners) t.join();
  ClearStopCallbacks();

  bool failed = false;
  for (VmRun& r : runs) {
    std::printf("\n%s", vmm::FormatSummary(r.summary).c_str());
    events->Emit("vm_summary", VmSummaryJson(r.summary));
    if (!r.summary.error.ok()) {
      failed = true;
      std::fprintf(stderr, "\nkvmbed: vm '%s' failed:\n%s\n", r.summary.name.c_str(),
                   std::string(r.summary.error.message()).c_str());
    }
  }
  int sig = StopSignalReceived();
  if (sig != 0) std::printf("\nstopped early by signal %d; the summary covers the run so far\n", sig);
  int code = failed ? kExitFound : kExitClean;
  events->Emit("run_end", {{"exit_code", code}, {"signal", sig}});
  if (!events->status().ok()) {
    std::fprintf(stderr, "kvmbed: %s\n", std::string(events->status().message()).c_str());
  }
  std::printf("%s\n", failed ? "run: FAILURE" : "run: SUCCESS");
  return code;
}

}  // namespace kvmbed
