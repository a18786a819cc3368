// x86 helpers every part of the guest uses: interrupt gates in a vCPU's IDT
// and the drop to ring 3. Freestanding; shares only guest/abi.h with the VMM.
//
// Threading: each vCPU calls these for itself (its own IDT page and stacks).
#ifndef KVMBED_GUEST_CPU_H_
#define KVMBED_GUEST_CPU_H_

#include "guest/abi.h"

namespace kvmbed {
namespace guest {

// Installs a present, DPL 0, 64-bit interrupt gate for `vector` in vCPU
// `vcpu`'s IDT (the page at PerCpuArea(vcpu) + kPerCpuIdtOffset).
void SetIdtGate(abi::u32 vcpu, abi::u32 vector, void (*stub)());

// Appends `v` in decimal to m's text (cut at kMessageText): the one decimal
// formatter of the guest (guest/main.cc's Text and the SMP reports use it).
void ReportDec(abi::Message* m, abi::u64 v);

// Drops to ring 3 at fn(arg) on this vCPU's ring-3 stack, with interrupts on
// (IPIs are then taken on the TSS's RSP0 stack) or off. Never returns.
[[noreturn]] void EnterRing3(abi::u32 vcpu, void (*fn)(abi::u64), abi::u64 arg,
                             bool interrupts_on);

}  // namespace guest
}  // namespace kvmbed

#endif  // KVMBED_GUEST_CPU_H_
