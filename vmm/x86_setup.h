// x86-64 long-mode bring-up done by the VMM before any vCPU runs: identity
// page tables, GDT/TSS, segment and control registers, and per-vCPU CPUID
// (KVM_GET_SUPPORTED_CPUID with x2APIC advertised and the vCPU's APIC id).
// The memory map comes from guest/abi.h.
//
// Threading: plain functions; call them from the thread that builds the VM,
// before the vCPU threads start.
#ifndef KVMBED_VMM_X86_SETUP_H_
#define KVMBED_VMM_X86_SETUP_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace vmm {

class GuestMemory;

// Writes the GDT, the TSS and the page tables (identity map of the first
// 4 GiB with 2 MiB pages) into guest memory.
absl::Status WriteBootTables(GuestMemory& mem);

// The CPUID table every vCPU starts from: KVM's supported CPUID with the
// x2APIC bit set. Fails if KVM does not report leaf 1.
absl::StatusOr<CpuidTable> BaseGuestCpuid(const Kvm& kvm);

// Puts `apic_id` into leaf 1 EBX[31:24] and the x2APIC id of leaves 0xB and
// 0x1F (EDX) of a copy of `base`.
CpuidTable CpuidForVcpu(const CpuidTable& base, uint32_t apic_id);

// Sets CPUID, long-mode sregs, and regs (RIP=entry, RSP=its stack,
// RDI=vCPU id, RSI=BootParams) on a fresh vCPU and marks it RUNNABLE (with
// the in-kernel irqchip, APs would otherwise wait for INIT/SIPI).
absl::Status SetupLongModeVcpu(Vcpu& vcpu, const CpuidTable& cpuid,
                               uint64_t entry);

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_X86_SETUP_H_
