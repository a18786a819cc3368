// Helpers shared by the reproduce-scenario workloads (guest/pvspinlock.cc,
// guest/hotplug.cc): their parameters and shared state (guest/abi.h
// ReproParams, PvLockShared, HotplugShared), raw IPIs, IDT gates and the
// drop to ring 3. Freestanding like the rest of the guest.
//
// Threading: per-vCPU code; see each workload for who writes what.
#ifndef KVMBED_GUEST_REPRO_H_
#define KVMBED_GUEST_REPRO_H_

#include "guest/smp.h"

namespace kvmbed {
namespace guest {

inline const abi::ReproParams* Repro() {
  return reinterpret_cast<const abi::ReproParams*>(abi::kReproParamsGpa);
}

constexpr u32 kMsrIcrRepro = 0x830;
constexpr u32 kMsrEoiRepro = 0x80b;

// A fixed-vector IPI to `cpu` (a trapped wrmsr when called from ring 3).
inline void SendVector(u32 cpu, u32 vector) {
  WrmsrSmp(kMsrIcrRepro, (static_cast<u64>(VcpuStatusOf(cpu)->apic_id) << 32) | vector);
}
inline void Eoi() { WrmsrSmp(kMsrEoiRepro, 0); }

// Installs an interrupt gate (DPL 0) for `vector` in vCPU `vcpu`'s IDT.
void SetReproGate(u32 vcpu, u32 vector, void (*stub)());

// Drops to ring 3 at fn(arg) on this vCPU's ring-3 stack with interrupts on.
[[noreturn]] void EnterUserWithInterrupts(u32 vcpu, void (*fn)(u64), u64 arg);

inline void HeartBeat(u32 vcpu) {
  abi::VcpuStatus* s = VcpuStatusOf(vcpu);
  s->heartbeat = s->heartbeat + 1;
}

}  // namespace guest
}  // namespace kvmbed

#endif  // KVMBED_GUEST_REPRO_H_
