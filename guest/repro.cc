// Shared helpers of the reproduce-scenario workloads (guest/repro.h).
#include "guest/repro.h"

using namespace kvmbed::abi;

namespace kvmbed {
namespace guest {

void SetReproGate(u32 vcpu, u32 vector, void (*stub)()) {
  struct Gate {
    u16 lo;
    u16 sel;
    u8 ist;
    u8 attr;
    u16 mid;
    u32 hi;
    u32 zero;
  };
  Gate* idt = reinterpret_cast<Gate*>(PerCpuArea(vcpu) + kPerCpuIdtOffset);
  u64 h = reinterpret_cast<u64>(stub);
  Gate& g = idt[vector];
  g.lo = static_cast<u16>(h);
  g.sel = kCodeSelector;
  g.ist = 0;
  g.attr = 0x8e;  // present, DPL 0, 64-bit interrupt gate
  g.mid = static_cast<u16>(h >> 16);
  g.hi = static_cast<u32>(h >> 32);
  g.zero = 0;
}

void EnterUserWithInterrupts(u32 vcpu, void (*fn)(u64), u64 arg) {
  asm volatile(
      "pushq %[ss]\n\t"
      "pushq %[rsp]\n\t"
      "pushq $0x202\n\t"
      "pushq %[cs]\n\t"
      "pushq %[rip]\n\t"
      "iretq"
      :
      : [ss] "i"(kUserDataSelector | 3), [rsp] "r"(UserStackTop(vcpu)),
        [cs] "i"(kUserCodeSelector | 3), [rip] "r"(fn), "D"(arg)
      : "memory");
  __builtin_unreachable();
}

}  // namespace guest
}  // namespace kvmbed
