// Machine: one VM built from a VmSpec and the caller's guest ELF, its vCPU
// threads, the guest<->VMM channel, and an orderly shutdown that leaves no fd
// or thread behind. RunVm() is the one-call form the CLI uses.
//
// Lifecycle: Create() -> Start() -> WaitOnline() -> Run() -> Shutdown().
// A guest fault (exception report, triple fault, unknown port/MMIO, internal
// error, failed entry) stops the faulting vCPU; Run()/WaitOnline() then
// return that error and Shutdown() stops every other vCPU in order. The
// error carries a register dump with the RIP symbolized from the guest ELF.
//
// Threading: Create/Start/WaitOnline/Run/Snapshot/Shutdown are called by one
// owner thread (the "emulator" thread). RequestStop() is safe from any thread and
// async-signal-safe (one lock-free atomic store), so a SIGINT handler may
// call it. vcpu_thread(i) gives the host plane Kick()/InGuest().
#ifndef KVMBED_VMM_MACHINE_H_
#define KVMBED_VMM_MACHINE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/enum_names.h"
#include "vmm/vm_spec.h"
#include "guest/abi.h"
#include "vmm/elf.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm.h"
#include "vmm/vcpu_hooks.h"
#include "vmm/vcpu_thread.h"

namespace kvmbed {
namespace vmm {

struct MachineOptions {
  // What every vCPU runs once online...
  abi::Workload workload = abi::kWorkloadIdle;
  // ...unless vcpu_workload[i] says otherwise (shorter than vcpus: the rest
  // run `workload`; kWorkloadDefault entries too).
  std::vector<abi::Workload> vcpu_workload;
  // A deliberate guest fault committed by vCPU `fault_vcpu` (tests).
  abi::Fault fault = abi::kFaultNone;
  int fault_vcpu = 0;
  // Period of the idle workload's x2APIC timer heartbeat.
  absl::Duration heartbeat_period = absl::Milliseconds(20);
  // How often Run() samples host CPUs and checks for stop/faults.
  absl::Duration poll_period = absl::Milliseconds(20);
  // madvise guest RAM with MADV_HUGEPAGE / MADV_MERGEABLE (KSM: the seed's
  // ksmd-like senders need mergeable memory).
  bool hugepages = false;
  bool mergeable = false;
  // Guest console lines go to the log (KLOG Info) as well as the summary.
  bool log_console = true;
  // Host-plane hooks called in every vCPU thread (may be null).
  VcpuHooks* hooks = nullptr;
  // The guest ELF, required: the VMM embeds no guest. Callers pass
  // //guest:image's guest::Image() (the bytes must outlive the Machine).
  absl::Span<const uint8_t> guest_elf;
  // When set, every kMsgReport is handed to it (in the sending vCPU's
  // thread) instead of being logged as console text; returns like
  // VcpuExitHandler::HandleExit. Used by runner/smp_run.h.
  std::function<absl::StatusOr<bool>(Vcpu&, const abi::Message&)> on_report;
};

// Per-vCPU part of the summary.
struct VcpuSummary {
  int id = 0;
  bool pinned = false;                  // VmSpec.vcpu_pinned[id]
  std::vector<int> affinity_requested;  // VmSpec.vcpu_affinity[id]
  std::vector<int> affinity_in_force;   // read back in the vCPU thread
  std::vector<int> ran_on;              // host CPUs it was seen running on
  std::map<std::string, uint64_t> exits;  // by KVM exit reason name
  uint64_t kicks = 0;                   // kicks consumed
  uint64_t heartbeats = 0;              // guest heartbeat counter at the end
  std::string state;                    // guest VcpuState: off/booting/online/stopped
  uint32_t apic_id = 0;                 // x2APIC id the guest read (MSR 0x802)
  uint32_t expected_apic_id = 0;        // what the topology gives (KVM vcpu_id)
};

struct VmSummary {
  std::string name;
  int vcpus = 0;
  uint64_t memory_bytes = 0;
  bool all_online = false;
  absl::Duration boot_time = absl::ZeroDuration();  // Create() -> all online
  // Parts of boot_time: Create() (VM, memory, ELF, vCPUs), Start() (spawn and
  // pin the threads), and the rest (guest bring-up until all are online).
  absl::Duration create_time = absl::ZeroDuration();
  absl::Duration start_time = absl::ZeroDuration();
  absl::Duration run_time = absl::ZeroDuration();   // online -> shutdown
  std::vector<VcpuSummary> vcpu;
  std::vector<std::string> console;  // guest console lines (capped)
  absl::Status error;                // first guest/VMM error; OK if clean
};

// The summary as a human-readable table (one row per vCPU).
std::string FormatSummary(const VmSummary& summary);

// Registers as an indented multi-line dump; RIP symbolized when `elf` is set.
std::string FormatRegisters(const VcpuRegisters& regs, const ElfImage* elf);

class Machine : private VcpuExitHandler {
 public:
  // Builds the VM: memory, guest ELF, boot tables, vCPUs in long mode. No
  // thread runs yet. Validates `spec` (errors name the field and the fix).
  static absl::StatusOr<std::unique_ptr<Machine>> Create(
      const VmSpec& spec, const MachineOptions& options = {});
  ~Machine() override;  // Shutdown()

  // Starts one pinned thread per vCPU.
  absl::Status Start();
  // Waits until every vCPU marked itself online. Errors on a guest fault,
  // RequestStop() (Cancelled) or timeout (naming the vCPUs not online).
  absl::Status WaitOnline(absl::Duration timeout);
  // Runs until `duration` passes, RequestStop(), every vCPU finished, or a
  // guest fault (returned).
  absl::Status Run(absl::Duration duration);
  // Thread-safe and async-signal-safe: makes Run() return soon.
  void RequestStop() { stop_requested_.store(true, std::memory_order_relaxed); }
  // Stops every vCPU in order, joins the threads, returns the summary.
  // Idempotent (later calls return the same summary).
  VmSummary Shutdown();

  // A live summary (counters so far) while the vCPUs run. Owner thread only;
  // for a live display, call Run() in slices and Snapshot() in between.
  VmSummary Snapshot() const;

  int num_vcpus() const { return static_cast<int>(vcpus_.size()); }
  // The vCPU thread of vCPU i (Kick(), InGuest() for the host plane).
  VcpuThread& vcpu_thread(int i) { return *threads_[i]; }
  // The vCPU i; its ioctls belong to its own thread (see vmm/kvm.h).
  Vcpu& vcpu(int i) { return *vcpus_[i]; }
  const ElfImage& elf() const { return *elf_; }
  GuestMemory& memory() { return *memory_; }
  // Guest-written status of vCPU i (a snapshot).
  abi::VcpuStatus StatusOf(int i) const;
  // Register dump of vCPU i with the RIP symbolized (`name+0xoff/0xsize`),
  // read by its own thread at its next exit (it is kicked). For stall
  // reports; callable from any thread until Shutdown() starts.
  absl::StatusOr<std::string> DescribeVcpu(int i, absl::Duration timeout);

 private:
  Machine(const VmSpec& spec, const MachineOptions& options);
  absl::Status Build();
  absl::StatusOr<bool> HandleExit(Vcpu& vcpu, uint32_t exit_reason) override;
  void OnVcpuStopped(int vcpu, const absl::Status& status) override;
  absl::StatusOr<bool> HandleMessage(Vcpu& vcpu, uint32_t gpa);
  // True when the vCPU is in the x86 reset state (as KVM leaves it on SVM
  // after a shutdown intercept).
  static bool RegistersWereReset(Vcpu& vcpu);
  std::string RegisterDump(Vcpu& vcpu);
  absl::Status VcpuError(Vcpu& vcpu, const std::string& what);
  absl::Status FirstError() const;
  bool AllOnline() const;
  bool AllFinished() const;
  void SampleHostCpus();
  void StopAll();

  const VmSpec spec_;
  const MachineOptions options_;
  const absl::Time create_start_;
  absl::Time created_at_ = absl::InfinitePast();
  absl::Time started_at_ = absl::InfinitePast();

  // Destruction order matters: threads, then vCPUs, then VM, then memory.
  std::unique_ptr<Kvm> kvm_;
  std::unique_ptr<GuestMemory> memory_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<ElfImage> elf_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::vector<std::unique_ptr<VcpuThread>> threads_;
  std::vector<uint32_t> apic_ids_;  // per vCPU index, from the topology
  abi::VcpuStatus* status_ = nullptr;  // HVA of the shared status array

  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> failed_{false};
  absl::Time online_at_ = absl::InfinitePast();
  bool shut_down_ = false;
  VmSummary final_summary_;

  mutable absl::Mutex mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> console_ ABSL_GUARDED_BY(mu_);
};

// One call: Create, Start, WaitOnline(boot_timeout), Run(duration), Shutdown.
// Returns a setup error (bad spec, KVM failure) as a status; a guest fault is
// returned inside the summary (summary.error), with the summary of the rest.
absl::StatusOr<VmSummary> RunVm(const VmSpec& spec, absl::Duration duration,
                                const MachineOptions& options = {},
                                absl::Duration boot_timeout = absl::Seconds(10));

// The guest faults a run can ask for (`kvmbed run --inject-fault`), by name.
// kFaultNone is the empty name; kFaultUserGp is not offered.
inline constexpr auto kGuestFaultNames = MakeEnumNames<abi::Fault>(
    {{abi::kFaultTriple, "triple"}, {abi::kFaultUd, "ud"}, {abi::kFaultGp, "gp"},
     {abi::kFaultPage, "page"}, {abi::kFaultDivide, "divide"}, {abi::kFaultBadPort, "bad-port"},
     {abi::kFaultMmio, "mmio"}});

// The guest fault named `name` ("" = none, else a name above); the error
// lists the names.
absl::StatusOr<abi::Fault> ParseGuestFault(const std::string& name);


}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_MACHINE_H_
