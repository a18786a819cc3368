// Consistent snapshots of a vCPU taken in its own thread: the caller asks,
// kicks the vCPU out of KVM_RUN, and the vCPU thread captures registers,
// MP state, the local APIC's IRR/ISR and the guest's status words before it
// re-enters the guest. Reading another vCPU's registers from a foreign
// thread would race KVM_RUN; this never does.
//
// Threading: SnapshotHooks is installed as MachineOptions::hooks (it chains
// to an inner VcpuHooks). Take() may be called from any thread, including a
// vCPU thread handling an exit: while it waits it serves requests aimed at
// its own vCPU, so two vCPUs snapshotting each other cannot deadlock.
#ifndef KVMBED_VMM_VCPU_SNAPSHOT_H_
#define KVMBED_VMM_VCPU_SNAPSHOT_H_

#include <linux/kvm.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "guest/abi.h"
#include "vmm/vcpu_hooks.h"

namespace kvmbed {
namespace vmm {

class Machine;
class ElfImage;

struct VcpuSnapshot {
  int vcpu = -1;
  bool in_guest_when_asked = false;  // the thread was in KVM_RUN when asked
  kvm_regs regs{};
  kvm_sregs sregs{};
  uint32_t mp_state = 0;          // KVM_MP_STATE_*
  std::array<uint32_t, 8> irr{};  // local APIC IRR, 256 bits
  std::array<uint32_t, 8> isr{};  // local APIC ISR
  abi::VcpuStatus status{};
  abi::SmpStatus smp{};
  absl::Time taken = absl::InfinitePast();

  bool Halted() const { return mp_state == KVM_MP_STATE_HALTED; }
  bool Pending(int vector) const { return irr[vector / 32] >> (vector % 32) & 1; }
  bool InService(int vector) const { return isr[vector / 32] >> (vector % 32) & 1; }
};

// "RIP ... name+0xoff/0xsize" and the GPRs, one line each, indented.
std::string FormatSnapshotRegisters(const VcpuSnapshot& s, const ElfImage& elf,
                                    const std::string& indent);
// "idle in hlt", "csd_lock_wait", ... from SmpStatus::where.
const char* SmpWhereName(uint32_t where);

class SnapshotHooks : public VcpuHooks {
 public:
  // `inner` (may be null) gets every hook call too.
  SnapshotHooks(int num_vcpus, VcpuHooks* inner);
  // Must be called once, before the vCPU threads start.
  void Attach(Machine* machine);

  // A snapshot of vCPU `target`, taken in its thread. `self` is the calling
  // vCPU (or -1 when the caller is not a vCPU thread). Fails after
  // `timeout` if the target's thread does not come out of KVM_RUN (or is
  // busy in the VMM) or has ended.
  absl::StatusOr<VcpuSnapshot> Take(int target, int self, absl::Duration timeout);

  void AfterExit(int vcpu, uint32_t exit_reason, bool kick_pending) override;
  void BeforeEntry(int vcpu) override;

 private:
  struct Slot {
    std::atomic<bool> requested{false};
    absl::Mutex mu;
    uint64_t served ABSL_GUARDED_BY(mu) = 0;  // snapshots taken so far
    VcpuSnapshot last ABSL_GUARDED_BY(mu);
  };
  // Captures vCPU `vcpu` in its own thread if a snapshot was requested.
  void Serve(int vcpu);
  absl::StatusOr<VcpuSnapshot> Capture(int vcpu);

  VcpuHooks* const inner_;
  std::atomic<Machine*> machine_{nullptr};
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_VCPU_SNAPSHOT_H_
