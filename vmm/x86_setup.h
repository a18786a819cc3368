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
#include "vmm/vm_spec.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace vmm {

class GuestMemory;

// Writes the GDT, one TSS per vCPU (RSP0 = its stack top) and the page
// tables (identity map of the first 4 GiB with 2 MiB pages, user-accessible
// so workloads may run in ring 3) into guest memory.
absl::Status WriteBootTables(GuestMemory& mem, int num_vcpus);

// The CPUID table every vCPU starts from: KVM's supported CPUID with the
// x2APIC bit set. Fails if KVM does not report leaf 1.
absl::StatusOr<CpuidTable> BaseGuestCpuid(const Kvm& kvm);

// How x2APIC ids encode a sockets/cores/threads topology, as hardware does:
// the low smt_bits select the thread, the next core_bits the core, the rest
// the socket. vCPU index i is thread i % threads of core (i / threads) %
// cores of socket i / (threads * cores) (libvirt's order: with threads=2,
// vCPUs 2k and 2k+1 are siblings).
struct ApicTopology {
  Topology topology;
  int smt_bits = 0;   // ceil(log2(threads))
  int core_bits = 0;  // ceil(log2(cores))

  // The x2APIC id (== KVM vcpu_id) of vCPU `index`.
  uint32_t ApicId(int index) const;
};

// Checks sockets*cores*threads == vcpus (all >= 1); errors name the field.
absl::StatusOr<ApicTopology> MakeApicTopology(const Topology& topology, int vcpus);

// A copy of `base` for one vCPU: its APIC id in leaf 1 EBX[31:24] and the
// x2APIC id of leaf 0xB; leaf 0xB describes the topology (SMT level, core
// level), leaf 1 the logical processor count and HTT. Leaf 0x1F is dropped
// so guests use leaf 0xB.
CpuidTable CpuidForVcpu(const CpuidTable& base, uint32_t apic_id,
                        const ApicTopology& topo);

// Sets CPUID, long-mode sregs, and regs (RIP=entry, RSP=its stack,
// RDI=vCPU id, RSI=BootParams) on a fresh vCPU and marks it RUNNABLE (with
// the in-kernel irqchip, APs would otherwise wait for INIT/SIPI).
absl::Status SetupLongModeVcpu(Vcpu& vcpu, const CpuidTable& cpuid,
                               uint64_t entry);

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_X86_SETUP_H_
