#include "guest/cpu.h"

using namespace kvmbed::abi;

namespace kvmbed {
namespace guest {
namespace {

struct IdtGate {
  u16 offset_lo;
  u16 selector;
  u8 ist;
  u8 type_attr;
  u16 offset_mid;
  u32 offset_hi;
  u32 zero;
};
static_assert(sizeof(IdtGate) == 16, "64-bit IDT gate");

}  // namespace

void SetIdtGate(u32 vcpu, u32 vector, void (*stub)()) {
  IdtGate* idt = reinterpret_cast<IdtGate*>(PerCpuArea(vcpu) + kPerCpuIdtOffset);
  const u64 handler = reinterpret_cast<u64>(stub);
  IdtGate& g = idt[vector];
  g.offset_lo = static_cast<u16>(handler);
  g.selector = kCodeSelector;
  g.ist = 0;
  g.type_attr = 0x8e;  // present, DPL 0, 64-bit interrupt gate
  g.offset_mid = static_cast<u16>(handler >> 16);
  g.offset_hi = static_cast<u32>(handler >> 32);
  g.zero = 0;
}

void ReportDec(Message* m, u64 v) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n && m->text_len < kMessageText) m->text[m->text_len++] = buf[--n];
}

void EnterRing3(u32 vcpu, void (*fn)(u64), u64 arg, bool interrupts_on) {
  // iretq frame: SS, RSP, RFLAGS (bit 1 is always set; IF = bit 9), CS, RIP.
  const u64 rflags = interrupts_on ? 0x202 : 0x2;
  asm volatile(
      "pushq %[ss]\n\t"
      "pushq %[rsp]\n\t"
      "pushq %[rflags]\n\t"
      "pushq %[cs]\n\t"
      "pushq %[rip]\n\t"
      "iretq"
      :
      : [ss] "i"(kUserDataSelector | 3), [rsp] "r"(UserStackTop(vcpu)),
        [rflags] "r"(rflags), [cs] "i"(kUserCodeSelector | 3), [rip] "r"(fn), "D"(arg)
      : "memory");
  __builtin_unreachable();
}

}  // namespace guest
}  // namespace kvmbed
