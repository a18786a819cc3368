#include "vmm/vcpu_snapshot.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/enum_names.h"
#include "vmm/elf.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace vmm {

namespace {

constexpr auto kSmpWhereNames = MakeEnumNames<uint32_t>(
    {{abi::kWhereBoot, "booting"}, {abi::kWhereWorkload, "running its workload"},
     {abi::kWhereHandler, "in the IPI handler"}, {abi::kWhereCsdWait, "spinning in csd_lock_wait"},
     {abi::kWhereIdle, "idle (hlt loop)"}, {abi::kWhereIoExit, "in an io exit to the VMM"}});

}  // namespace

const char* SmpWhereName(uint32_t where) { return kSmpWhereNames.Name(where, "unknown"); }

std::string FormatSnapshotRegisters(const VcpuSnapshot& s, const ElfImage& elf,
                                    const std::string& indent) {
  const kvm_regs& r = s.regs;
  return absl::StrFormat(
      "%sRIP: %04x:%016x %s\n"
      "%sRSP: %016x RFLAGS: %08x%s\n"
      "%sRAX: %016x RBX: %016x RCX: %016x\n"
      "%sRDX: %016x RSI: %016x RDI: %016x\n"
      "%sRBP: %016x R08: %016x R09: %016x\n"
      "%sR10: %016x R11: %016x R12: %016x\n"
      "%sR13: %016x R14: %016x R15: %016x\n",
      indent, s.sregs.cs.selector, r.rip, elf.Symbolize(r.rip), indent, r.rsp, r.rflags,
      (r.rflags & (1u << 9)) ? " (IF=1)" : " (IF=0)", indent, r.rax, r.rbx, r.rcx, indent, r.rdx,
      r.rsi, r.rdi, indent, r.rbp, r.r8, r.r9, indent, r.r10, r.r11, r.r12, indent, r.r13, r.r14,
      r.r15);
}

SnapshotHooks::SnapshotHooks(int num_vcpus, VcpuHooks* inner) : inner_(inner) {
  for (int i = 0; i < num_vcpus; ++i) slots_.push_back(std::make_unique<Slot>());
}

void SnapshotHooks::Attach(Machine* machine) { machine_.store(machine, std::memory_order_release); }

absl::StatusOr<VcpuSnapshot> SnapshotHooks::Capture(int vcpu) {
  Machine* m = machine_.load(std::memory_order_acquire);
  if (m == nullptr) return absl::FailedPreconditionError("no machine attached");
  Vcpu& v = m->vcpu(vcpu);
  VcpuSnapshot s;
  s.vcpu = vcpu;
  s.taken = absl::Now();
  absl::StatusOr<kvm_regs> regs = v.GetRegs();
  if (!regs.ok()) return regs.status();
  s.regs = *regs;
  absl::StatusOr<kvm_sregs> sregs = v.GetSregs();
  if (!sregs.ok()) return sregs.status();
  s.sregs = *sregs;
  absl::StatusOr<kvm_mp_state> mp = v.GetMpState();
  if (mp.ok()) s.mp_state = mp->mp_state;
  kvm_lapic_state lapic;
  if (ioctl(v.fd(), KVM_GET_LAPIC, &lapic) == 0) {
    for (int i = 0; i < 8; ++i) {
      std::memcpy(&s.isr[i], lapic.regs + 0x100 + i * 0x10, 4);
      std::memcpy(&s.irr[i], lapic.regs + 0x200 + i * 0x10, 4);
    }
  }
  auto smp = m->memory().ReadAs<abi::SmpStatus>(abi::SmpStatusGpa(vcpu));
  if (smp.ok()) s.smp = *smp;
  s.status = m->StatusOf(vcpu);
  return s;
}

void SnapshotHooks::Serve(int vcpu) {
  if (vcpu < 0 || vcpu >= static_cast<int>(slots_.size())) return;
  Slot& slot = *slots_[vcpu];
  if (!slot.requested.exchange(false, std::memory_order_acq_rel)) return;
  absl::StatusOr<VcpuSnapshot> s = Capture(vcpu);
  absl::MutexLock lock(&slot.mu);
  if (s.ok()) {
    slot.last = *s;
  } else {
    slot.last = VcpuSnapshot();
    slot.last.vcpu = -1;
  }
  ++slot.served;
}

void SnapshotHooks::AfterExit(int vcpu, uint32_t exit_reason, bool kick_pending) {
  Serve(vcpu);
  if (inner_) inner_->AfterExit(vcpu, exit_reason, kick_pending);
}

void SnapshotHooks::BeforeEntry(int vcpu) {
  Serve(vcpu);
  if (inner_) inner_->BeforeEntry(vcpu);
}

absl::StatusOr<VcpuSnapshot> SnapshotHooks::Take(int target, int self, absl::Duration timeout) {
  Machine* m = machine_.load(std::memory_order_acquire);
  if (m == nullptr || target < 0 || target >= static_cast<int>(slots_.size())) {
    return absl::InvalidArgumentError(absl::StrCat("no vCPU ", target, " to snapshot"));
  }
  if (target == self) {
    // The caller is this vCPU's own thread, out of KVM_RUN: capture directly.
    return Capture(target);
  }
  Slot& slot = *slots_[target];
  uint64_t before;
  {
    absl::MutexLock lock(&slot.mu);
    before = slot.served;
  }
  VcpuThread& thread = m->vcpu_thread(target);
  if (thread.Finished()) {
    return absl::UnavailableError(absl::StrCat("vCPU ", target, " thread has ended"));
  }
  const bool in_guest = thread.InGuest();
  slot.requested.store(true, std::memory_order_release);
  thread.Kick();
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    {
      absl::MutexLock lock(&slot.mu);
      auto done = [&slot, before]()
                      ABSL_NO_THREAD_SAFETY_ANALYSIS { return slot.served != before; };
      if (slot.mu.AwaitWithTimeout(absl::Condition(&done), absl::Microseconds(200))) {
        if (slot.last.vcpu < 0) {
          return absl::InternalError(absl::StrCat("vCPU ", target, ": capture failed"));
        }
        VcpuSnapshot s = slot.last;
        s.in_guest_when_asked = in_guest;
        return s;
      }
    }
    Serve(self);
    if (absl::Now() >= deadline) {
      slot.requested.store(false, std::memory_order_release);
      return absl::DeadlineExceededError(absl::StrCat(
          "vCPU ", target, " did not come out of KVM_RUN within ", absl::FormatDuration(timeout),
          thread.InGuest() ? "" : " (busy in the VMM)"));
    }
  }
}

}  // namespace vmm
}  // namespace kvmbed
