// Helpers shared by the reproduce-scenario workloads (guest/pvspinlock.cc,
// guest/hotplug.cc): their parameters and shared state (guest/abi.h
// ReproParams, PvLockShared, HotplugShared), raw IPIs and heartbeats (IDT gates and the drop to ring 3 are
// guest/cpu.h). Freestanding like the rest of the guest.
//
// Threading: per-vCPU code; see each workload for who writes what.
#ifndef KVMBED_GUEST_REPRO_H_
#define KVMBED_GUEST_REPRO_H_

#include "guest/cpu.h"
#include "guest/smp.h"
#include "guest/x2apic.h"

namespace kvmbed {
namespace guest {

inline const abi::ReproParams* Repro() {
  return reinterpret_cast<const abi::ReproParams*>(abi::kReproParamsGpa);
}

// A fixed-vector IPI to `cpu` (a trapped wrmsr when called from ring 3).
inline void SendVector(u32 cpu, u32 vector) {
  WrmsrSmp(kX2apicIcr, (static_cast<u64>(VcpuStatusOf(cpu)->apic_id) << 32) | vector);
}
inline void Eoi() { WrmsrSmp(kX2apicEoi, 0); }

inline void HeartBeat(u32 vcpu) {
  abi::VcpuStatus* s = VcpuStatusOf(vcpu);
  s->heartbeat = s->heartbeat + 1;
}

}  // namespace guest
}  // namespace kvmbed

#endif  // KVMBED_GUEST_REPRO_H_
