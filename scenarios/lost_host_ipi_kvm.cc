// Scenario 2 of 3a83f677 on real KVM vCPU threads (ReproduceLostHostIpiOnKvm).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "guest/abi.h"
#include "guest/image.h"
#include "hostipi/workload.h"
#include "hostplane/host_plane.h"
#include "scenarios/lost_host_ipi_kvm.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace scenarios {

namespace {

struct PhaseRun {
  hostplane::HostPlaneResult result;
  std::string model;
};

// One phase: a 1-vCPU VM (spin workload: it stays in the guest) whose vCPU
// thread is the target, one pinned sender thread. Ends at the first LOST
// stall (stop_on_lost), after `budget`, or after `max_doorbells`.
absl::StatusOr<PhaseRun> RunPhase(const KvmReproOptions& o, const hostipi::KernelModel& model,
                                  absl::Duration budget, int64_t max_doorbells,
                                  absl::Duration threshold, bool stop_on_lost) {
  if (o.pin_cpus.size() < 2) {
    return absl::InvalidArgumentError(
        "KvmReproOptions.pin_cpus: give two host CPUs (sender, vCPU), e.g. {0, 1}");
  }
  VmSpec vm;
  vm.name = "hostipi-kvm";
  vm.vcpus = 1;
  vm.memory_bytes = 64ull << 20;
  vm.vcpu_affinity = {{o.pin_cpus[1]}};
  vm.vcpu_pinned = {true};

  hostplane::HostPlaneOptions po;
  po.vm_name = vm.name;
  po.num_vcpus = 1;
  po.model = model;
  po.ordering = o.ordering;
  po.store_hold = o.store_hold;
  po.ksmd_threads = 1;
  po.ksmd_cpus = {o.pin_cpus[0]};
  po.vcpu_exit_calls = false;
  po.stall_threshold = threshold;
  po.stop_on_lost = stop_on_lost;
  po.out = o.out ? o.out : [](const std::string&) {};
  ASSIGN_OR_RETURN(std::unique_ptr<hostplane::HostPlane> plane, hostplane::HostPlane::Create(po));

  const int burst = std::max(0, o.resched_burst);
  const int jitter = std::max(0, o.align_jitter);
  plane->SetSenderBodyForTest([burst, jitter, max_doorbells](hostipi::HostIpiPlane& p,
                                                               hostipi::CpuMemory& mem,
                                                               hostplane::HostPlane& self) {
    hostipi::SplitMix64 rng(0x5eed);
    // Waits (taking interrupts) until the target is out of the guest, i.e.
    // in its exit path for the previous doorbell, then a random pause.
    auto align = [&]() {
      if (jitter == 0) return;
      for (int spins = 0; p.InGuest(0) && spins < 3000 && !mem.StopRequested(); ++spins) {
        p.InterruptPoint(mem);
        mem.Relax();
      }
      for (uint64_t d = rng.Below(static_cast<uint64_t>(jitter)); d > 0; --d) mem.Relax();
    };
    uint64_t info = 0;
    while (!mem.StopRequested()) {
      for (int b = 0; b < burst; ++b) {
        if (b > 0) align();
        p.SendReschedule(mem, 0);
      }
      if (burst > 0) align();
      const int64_t t0 = mem.NowNs();
      if (!p.CallFunctionSingle(mem, 0, hostipi::kDoNothing, ++info, true)) break;
      self.RecordRoundTrip(mem.NowNs() - t0, false);
      if (max_doorbells > 0 && p.TotalDoorbells() >= max_doorbells) self.RequestStop();
    }
  });

  vmm::MachineOptions mo;
  mo.guest_elf = guest::Image();
  mo.workload = abi::kWorkloadSpin;
  mo.log_console = false;
  mo.hooks = plane.get();
  ASSIGN_OR_RETURN(std::unique_ptr<vmm::Machine> m, vmm::Machine::Create(vm, mo));
  plane->Attach(m.get());
  absl::Status s = m->Start();
  if (s.ok()) s = m->WaitOnline(absl::Seconds(20));
  if (s.ok()) s = plane->Start();
  const absl::Time end = absl::Now() + budget;
  while (s.ok() && !plane->StopRequested() && absl::Now() < end) {
    s = m->Run(std::min(absl::Milliseconds(50), end - absl::Now()));
  }
  plane->StopSenders();
  vmm::VmSummary summary = m->Shutdown();
  plane->Join();
  if (!s.ok()) return s;
  if (!summary.error.ok()) return summary.error;
  PhaseRun out;
  out.result = plane->Result();
  out.model = model.ToString();
  return out;
}

ReproductionPhase ToPhase(const PhaseRun& p) {
  ReproductionPhase ph;
  ph.ran = true;
  ph.kernel_model = p.model;
  ph.hung = p.result.lost > 0;
  ph.seconds = p.result.seconds;
  ph.seconds_to_hang = p.result.seconds_to_lost;
  ph.operations = p.result.stats.doorbells_sent;
  ph.operations_to_hang = p.result.doorbells_to_lost;
  ph.hangs = p.result.lost;
  ph.slow = p.result.slow;
  ph.report = p.result.first_lost_report;
  return ph;
}

std::string PhaseNote(const char* which, const PhaseRun& p) {
  const hostplane::HostPlaneResult& r = p.result;
  const auto& s = r.stats;
  return absl::StrFormat(
      "%s (%s): %d doorbells in %.2f s (%.0f/s), taken in guest %d, ignored %d, peek saw zero "
      "%d, csd calls %d, csd round trip p50 <= %.1f us, max wait %.3f ms, stalls lost %d slow %d",
      which, r.kernel_model, s.doorbells_sent, r.seconds,
      r.seconds > 0 ? s.doorbells_sent / r.seconds : 0.0, s.doorbells_taken_in_guest,
      s.doorbells_ignored, s.peeks_saw_zero, r.calls, r.latency.ApproxQuantile(0.5) / 1e3,
      s.max_wait_ns / 1e6, r.lost, r.slow);
}

}  // namespace

absl::StatusOr<Reproduction> ReproduceLostHostIpiOnKvm(const KvmReproOptions& o) {
  if (o.buggy_budget <= absl::ZeroDuration() || o.fixed_budget < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "KvmReproOptions: buggy_budget must be > 0 and fixed_budget >= 0");
  }
  Reproduction rep;
  rep.name = "lost-host-ipi";
  rep.commit = "3a83f677";
  const bool emulated = o.ordering == hostipi::OrderingMode::kEmulatedPower;
  rep.bug = absl::StrCat(
      "scenario 2 on a real KVM vCPU thread: its clear of kvm_hstate.host_ipi sits in the ",
      emulated ? absl::StrCat("emulated POWER store buffer (holds up to ",
                              absl::FormatDuration(o.store_hold), ")")
               : std::string("x86 store buffer"),
      " past its peek of ipi_message, lands after a sender's set, and the next doorbell (a "
      "kick out of KVM_RUN) finds host_ipi == 0 and is ignored");
  rep.fix = "smp_mb() after kvmppc_clear_host_ipi()'s store (3a83f677)";
  rep.unit = "doorbells";

  ASSIGN_OR_RETURN(PhaseRun buggy, RunPhase(o, o.buggy_model, o.buggy_budget, 0, o.threshold,
                                            /*stop_on_lost=*/true));
  rep.buggy = ToPhase(buggy);
  // The fixed phase runs with the threshold the buggy one used (same load).
  if (o.fixed_budget > absl::ZeroDuration()) {
    ASSIGN_OR_RETURN(PhaseRun fixed,
                     RunPhase(o, o.fixed_model, o.fixed_budget, o.fixed_doorbells,
                              buggy.result.threshold, /*stop_on_lost=*/false));
    rep.fixed = ToPhase(fixed);
    rep.notes.push_back(PhaseNote("fixed", fixed));
  }
  rep.notes.insert(rep.notes.begin(), PhaseNote("buggy", buggy));
  rep.notes.push_back(absl::StrCat("stall threshold ", absl::FormatDuration(buggy.result.threshold),
                                   " (", buggy.result.threshold_source, ")"));
  rep.notes.push_back(absl::StrFormat(
      "load: 1-vCPU VM (spin) pinned to host CPU %d is the target; a sender thread on CPU %d "
      "sends %d RESCHEDULE(s) then CALL_FUNCTION and waits; align_jitter %d",
      o.pin_cpus[1], o.pin_cpus[0], o.resched_burst, o.align_jitter));
  if (!rep.buggy.hung && !emulated) {
    rep.notes.push_back(absl::StrFormat(
        "the buggy model did not lose an IPI within %s on the vCPU thread: every doorbell is a "
        "kick out of KVM_RUN (tens of us), so the few-ns store-buffer window is hit far more "
        "rarely than on plain threads (`kvmbed reproduce lost-host-ipi --mode=native`)",
        absl::FormatDuration(o.buggy_budget)));
  }
  return rep;
}

}  // namespace scenarios
}  // namespace kvmbed
