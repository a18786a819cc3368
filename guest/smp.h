// Guest SMP: per-vCPU call_single_queue (lock-free llist of Csd), csd locks,
// the smp_call_function family over real x2APIC IPIs, reschedule IPIs,
// csd_lock_wait with a report threshold, and the workloads built on them
// (guest/workloads.cc). Modelled on Linux kernel/smp.c; shares only
// guest/abi.h with the VMM.
//
// Threading: every vCPU runs this code on its own stack. A vCPU writes only
// its own SmpStatus, its own csds (as sender) and, through the llist, the
// queue heads of other vCPUs. Handlers run with interrupts off; the op loop
// and csd_lock_wait run with interrupts on so a waiter keeps serving IPIs.
#ifndef KVMBED_GUEST_SMP_H_
#define KVMBED_GUEST_SMP_H_

#include "guest/abi.h"

namespace kvmbed {
namespace guest {

using abi::u16;
using abi::u32;
using abi::u64;
using abi::u8;

// ---- CPU primitives ----
inline u64 Rdtsc() {
  u32 lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return (static_cast<u64>(hi) << 32) | lo;
}
inline void CpuRelax() { asm volatile("pause" ::: "memory"); }
inline void WrmsrSmp(u32 msr, u64 value) {
  asm volatile("wrmsr"
               :
               : "c"(msr), "a"(static_cast<u32>(value)), "d"(static_cast<u32>(value >> 32))
               : "memory");
}
inline void Sti() { asm volatile("sti" ::: "memory"); }
inline u64 IrqSave() {
  u64 flags;
  asm volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
  return flags;
}
inline void IrqRestore(u64 flags) {
  if (flags & (1u << 9)) asm volatile("sti" ::: "memory");
}

// The current vCPU (from the stack pointer, as guest/main.cc does).
inline u32 ThisCpu() {
  u64 rsp;
  asm volatile("mov %%rsp, %0" : "=r"(rsp));
  return static_cast<u32>((rsp - abi::kPerCpuBase) / abi::kPerCpuSize);
}

inline abi::SmpStatus* SmpStatusOf(u32 vcpu) {
  return reinterpret_cast<abi::SmpStatus*>(abi::SmpStatusGpa(vcpu));
}
inline const abi::BootParams* Boot() {
  return reinterpret_cast<const abi::BootParams*>(abi::kBootParamsGpa);
}
inline const abi::SmpParams* Params() {
  return reinterpret_cast<const abi::SmpParams*>(abi::kSmpParamsGpa);
}
inline abi::VcpuStatus* VcpuStatusOf(u32 vcpu) {
  return reinterpret_cast<abi::VcpuStatus*>(abi::kStatusGpa) + vcpu;
}

// Relaxed per-vCPU counter bump (only the owner writes it).
inline void Count(u32 vcpu, abi::SmpCounter c, u64 n = 1) {
  volatile u64* p = &SmpStatusOf(vcpu)->count[c];
  *p = *p + n;
}

// xorshift64*: per-vCPU pseudo-random numbers.
u64 Random(u32 vcpu) asm("torture_random");
// Nanoseconds to TSC cycles with BootParams.tsc_khz.
u64 NsToCycles(u64 ns);
u64 CyclesToNs(u64 cycles);
// Busy-waits `us` microseconds.
void DelayUs(u64 us);

// ---- messages to the VMM ----
// A message buffer safe for the current context (a separate one for IRQ
// context, so a handler never tramples a message being built).
abi::Message* BeginReport(u32 vcpu, abi::ReportCode code);
// Appends text.
void ReportText(abi::Message* m, const char* s);
// One port write; the VMM has consumed the message when it returns.
void SendReport(abi::Message* m);

// ---- smp_call_function family ----
typedef void (*SmpFunc)(u64 info);

struct CpuMask {
  u64 bits[abi::kMaxVcpus / 64];
  void Clear() {
    for (u64& w : bits) w = 0;
  }
  void Set(u32 cpu) { bits[cpu / 64] |= 1ull << (cpu % 64); }
  bool Test(u32 cpu) const { return bits[cpu / 64] & (1ull << (cpu % 64)); }
};

// Installs the IPI vectors in this vCPU's IDT and clears its SmpStatus.
void SmpInitCpu(u32 vcpu);
// Spins until every vCPU is online (scftorture's n_started barrier).
void WaitAllOnline();
// Runs func(info) on `cpu`; waits for it to finish when `wait`.
void SmpCallFunctionSingle(u32 cpu, SmpFunc func, u64 info,
                           bool wait) asm("smp_call_function_single");
// As SmpCallFunctionSingle(cpu, func, info, true), but no latency sample
// (guest/abi.h CsdWaitLatency): for the IPI bench, which times its own.
void SmpCallFunctionSingleUnrecorded(u32 cpu, SmpFunc func,
                                     u64 info) asm("smp_call_function_single_bench");
// Runs func(info) on every vCPU in `mask` except this one.
void SmpCallFunctionMany(const CpuMask& mask, SmpFunc func, u64 info,
                         bool wait) asm("smp_call_function_many");
// Runs func(info) on every other vCPU.
void SmpCallFunction(SmpFunc func, u64 info, bool wait) asm("smp_call_function");
// Sends a reschedule IPI (a second vector, no queue).
void SendReschedule(u32 cpu);
// kvm-unit-tests' on_cpu(cpu, func, info): a single mailbox, no queue, no
// csd; for the IPI benchmark's like-for-like comparison only.
void OnCpu(u32 cpu, SmpFunc func, u64 info) asm("on_cpu");
// The online mask (all vCPUs of the VM, minus those taken offline).
const CpuMask& OnlineMask();
// cpu_online(cpu) / set_cpu_online(cpu, online): atomic on the online mask.
bool CpuOnline(u32 cpu);
void SetCpuOnline(u32 cpu, bool online);
// An async smp_call_function_single in its three steps, for the hotplug
// model's IPI that arrives late (guest/hotplug.cc): csd_lock (waits, with
// the csd_lock_wait reports, until the csd's previous use is done), queue
// it (true when the queue was empty: an IPI is needed), send the
// call-function IPI.
abi::Csd* CsdLockFor(u32 target);
bool CsdEnqueueAsync(abi::Csd* csd, u32 target, SmpFunc func, u64 info);
void SendCallFunctionIpi(u32 target);
// flush_smp_call_function_queue() for `self` (runs every queued csd).
void FlushSmpCallFunctionQueue(u32 self);
// Called by the call-function interrupt instead of the flush when the vCPU
// taking it is offline (guest/hotplug.cc); null = flush as usual.
typedef void (*OfflineIpiFn)(u32 self);
void SetOfflineIpiHandler(OfflineIpiFn fn);

}  // namespace guest
}  // namespace kvmbed

#endif  // KVMBED_GUEST_SMP_H_
