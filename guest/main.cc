// The kvmbed guest mini-kernel: per-vCPU bring-up (IDT, x2APIC), then a
// per-vCPU workload. Freestanding: no libc; everything it knows about the
// host side comes from guest/abi.h.
//
// Threading: every vCPU runs guest_main on its own stack and touches only its
// own per-vCPU area and VcpuStatus entry; BootParams is read-only.

#include "guest/abi.h"
#include "guest/cpu.h"
#include "guest/x2apic.h"

using namespace kvmbed::abi;
using kvmbed::guest::EnterRing3;
using kvmbed::guest::ReportDec;
using kvmbed::guest::SetIdtGate;
using kvmbed::guest::kMsrApicBase;
using kvmbed::guest::kX2apicEoi;
using kvmbed::guest::kX2apicId;
using kvmbed::guest::kX2apicLvtTimer;
using kvmbed::guest::kX2apicSvr;
using kvmbed::guest::kX2apicTimerDiv;
using kvmbed::guest::kX2apicTimerInit;

namespace kvmbed {
namespace guest {
// guest/workloads.cc
void SmpWorkload(abi::u32 vcpu, const abi::BootParams* bp);
void IpiBenchWorkload(abi::u32 vcpu, const abi::BootParams* bp);
// guest/pvspinlock.cc, guest/hotplug.cc
void PvSpinlockWorkload(abi::u32 vcpu, const abi::BootParams* bp);
void HotplugWorkload(abi::u32 vcpu, const abi::BootParams* bp);
}  // namespace guest
}  // namespace kvmbed

// ---- freestanding support the compiler may call ----
extern "C" void* memset(void* dst, int c, unsigned long n) {
  u8* d = static_cast<u8*>(dst);
  for (unsigned long i = 0; i < n; ++i) d[i] = static_cast<u8>(c);
  return dst;
}
extern "C" void* memcpy(void* dst, const void* src, unsigned long n) {
  u8* d = static_cast<u8*>(dst);
  const u8* s = static_cast<const u8*>(src);
  for (unsigned long i = 0; i < n; ++i) d[i] = s[i];
  return dst;
}

namespace {

// ---- CPU primitives ----
inline void Outl(u16 port, u32 value) {
  asm volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}
inline void Outb(u16 port, u8 value) {
  asm volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}
inline u64 Rdmsr(u32 msr) {
  u32 lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (static_cast<u64>(hi) << 32) | lo;
}
inline void Wrmsr(u32 msr, u64 value) {
  asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<u32>(value)),
               "d"(static_cast<u32>(value >> 32))
               : "memory");
}
inline void Cpuid(u32 leaf, u32 sub, u32* a, u32* b, u32* c, u32* d) {
  asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
               : "a"(leaf), "c"(sub));
}
inline u64 ReadCr2() {
  u64 v;
  asm volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
inline void Pause() { asm volatile("pause" ::: "memory"); }
[[noreturn]] inline void HaltForever() {
  for (;;) asm volatile("cli; hlt" ::: "memory");
}

constexpr u64 kApicBaseEnable = 1ull << 11;
constexpr u64 kApicBaseExtd = 1ull << 10;
constexpr u32 kTimerVector = 32;
constexpr u32 kSpuriousVector = 255;
constexpr u32 kLvtTimerPeriodic = 1u << 17;

const BootParams* BootParamsPtr() {
  return reinterpret_cast<const BootParams*>(kBootParamsGpa);
}
VcpuStatus* StatusOf(u32 vcpu) {
  return reinterpret_cast<VcpuStatus*>(kStatusGpa) + vcpu;
}
Message* MessageBufferOf(u32 vcpu) {
  return reinterpret_cast<Message*>(PerCpuArea(vcpu) + kPerCpuMessageOffset);
}

// The current vCPU id, derived from the stack pointer (each vCPU's stack lies
// in its own per-vCPU area and interrupts stay on it: no IST, ring 0 only).
u32 CurrentVcpu() {
  u64 rsp;
  asm volatile("mov %%rsp, %0" : "=r"(rsp));
  return static_cast<u32>((rsp - kPerCpuBase) / kPerCpuSize);
}

// ---- report channel ----

// A tiny append-only text builder for message text.
class Text {
 public:
  explicit Text(Message* m) : m_(m) { m_->text_len = 0; }
  Text& Str(const char* s) {
    while (*s) Char(*s++);
    return *this;
  }
  Text& Dec(u64 v) {
    ReportDec(m_, v);
    return *this;
  }
  Text& Hex(u64 v) {
    Str("0x");
    bool started = false;
    for (int shift = 60; shift >= 0; shift -= 4) {
      u32 nib = (v >> shift) & 0xf;
      if (nib || started || shift == 0) {
        Char("0123456789abcdef"[nib]);
        started = true;
      }
    }
    return *this;
  }

 private:
  void Char(char c) {
    if (m_->text_len < kMessageText) m_->text[m_->text_len++] = c;
  }
  Message* m_;
};

Message* BeginMessage(u32 vcpu, MessageType type, u32 code) {
  Message* m = MessageBufferOf(vcpu);
  m->type = type;
  m->vcpu = vcpu;
  m->code = code;
  m->text_len = 0;
  for (u32 i = 0; i < kMessageArgs; ++i) m->args[i] = 0;
  return m;
}

void SendMessage(Message* m) {
  Outl(kPortMessage, static_cast<u32>(reinterpret_cast<u64>(m)));
}

[[noreturn]] void Fatal(u32 vcpu, const char* why) {
  Message* m = BeginMessage(vcpu, kMsgFatal, 0);
  Text(m).Str(why);
  StatusOf(vcpu)->state = kStateStopped;
  SendMessage(m);
  HaltForever();
}

// ---- IDT ----
struct __attribute__((packed)) DescriptorPointer {
  u16 limit;
  u64 base;
};

}  // namespace

extern "C" {
extern const u64 exc_stub_table[32];
void irq_stub_32();
void irq_stub_255();
}

namespace {

// Each vCPU gets its own IDT page, so bring-up needs no cross-vCPU ordering.
// The page starts zeroed (guest/abi.h), so only the used gates are written:
// on this project's hosts (kvm_pvm) ring-0 guest code is emulated instruction
// by instruction, and a 4 KiB memset per vCPU was most of the boot time.
void SetupIdt(u32 vcpu) {
  for (u32 v = 0; v < 32; ++v) {
    SetIdtGate(vcpu, v, reinterpret_cast<void (*)()>(exc_stub_table[v]));
  }
  SetIdtGate(vcpu, kTimerVector, &irq_stub_32);
  SetIdtGate(vcpu, kSpuriousVector, &irq_stub_255);
  DescriptorPointer p = {static_cast<u16>(256 * 16 - 1),  // 256 16-byte gates
                         PerCpuArea(vcpu) + kPerCpuIdtOffset};
  asm volatile("lidt %0" : : "m"(p) : "memory");
}

void EnableX2apic(u32 vcpu) {
  u32 a, b, c, d;
  Cpuid(1, 0, &a, &b, &c, &d);
  if (!(c & (1u << 21))) Fatal(vcpu, "CPUID.1:ECX.x2APIC[21] is clear");
  Wrmsr(kMsrApicBase, Rdmsr(kMsrApicBase) | kApicBaseEnable);
  Wrmsr(kMsrApicBase, Rdmsr(kMsrApicBase) | kApicBaseEnable | kApicBaseExtd);
  Wrmsr(kX2apicSvr, 0x100 | kSpuriousVector);  // software enable
  StatusOf(vcpu)->apic_id = static_cast<u32>(Rdmsr(kX2apicId));
}

// ---- deliberate faults (tests of the VMM's error paths) ----
// Named extern "C" and kept out of line so the VMM's symbolized RIP is stable.
}  // namespace

extern "C" {
__attribute__((noinline)) void kvmbed_fault_triple() {
  DescriptorPointer empty = {0, 0};
  asm volatile("lidt %0; ud2" : : "m"(empty) : "memory");
}
__attribute__((noinline)) void kvmbed_fault_ud() { asm volatile("ud2"); }
__attribute__((noinline)) u64 kvmbed_fault_gp() {
  return *reinterpret_cast<volatile u64*>(0x8000000000000000ull);
}
__attribute__((noinline)) u64 kvmbed_fault_page() {
  return *reinterpret_cast<volatile u64*>(16ull << 30);  // not mapped
}
__attribute__((noinline)) void kvmbed_fault_bad_port() { Outb(0x1234, 0x5a); }
__attribute__((noinline)) u64 kvmbed_fault_mmio() {
  return *reinterpret_cast<volatile u64*>(kLowMemLimit + 0x1000);
}
// Runs in ring 3: cli is privileged there (IOPL 0), so it raises #GP, which
// is delivered on the vCPU's RSP0 stack.
__attribute__((noinline)) void kvmbed_fault_user(u64) {
  asm volatile("cli");
  for (;;) {}
}
__attribute__((noinline)) u64 kvmbed_fault_divide(u64 divisor) {
  u64 q;
  asm volatile("xor %%edx, %%edx; divq %2" : "=a"(q) : "a"(1ull), "r"(divisor)
               : "rdx");
  return q;
}
}

namespace {

void CommitFault(u32 vcpu, u32 fault) {
  switch (fault) {
    case kFaultNone: return;
    case kFaultTriple: kvmbed_fault_triple(); break;
    case kFaultUd: kvmbed_fault_ud(); break;
    case kFaultGp: kvmbed_fault_gp(); break;
    case kFaultPage: kvmbed_fault_page(); break;
    case kFaultBadPort: kvmbed_fault_bad_port(); break;
    case kFaultMmio: kvmbed_fault_mmio(); break;
    case kFaultDivide: kvmbed_fault_divide(0); break;
    case kFaultUserGp: EnterRing3(vcpu, &kvmbed_fault_user, 0, /*interrupts_on=*/false);
    default: Fatal(vcpu, "BootParams.fault: unknown fault number");
  }
  Fatal(vcpu, "the requested fault did not fault");
}

// ---- workloads ----
// Each returns only to finish the vCPU (then kMsgDone is sent).
typedef void (*WorkloadFn)(u32 vcpu, const BootParams* bp);

void IdleWorkload(u32 vcpu, const BootParams* bp) {
  (void)vcpu;
  Wrmsr(kX2apicTimerDiv, 0xb);  // divide by 1
  Wrmsr(kX2apicLvtTimer, kTimerVector | kLvtTimerPeriodic);
  Wrmsr(kX2apicTimerInit, bp->heartbeat_ticks ? bp->heartbeat_ticks : 10000000);
  for (;;) asm volatile("sti; hlt; cli" ::: "memory");
}

void SpinWorkload(u32 vcpu, const BootParams* bp) {
  (void)bp;
  VcpuStatus* s = StatusOf(vcpu);
  for (;;) {
    s->heartbeat = s->heartbeat + 1;
    Pause();
  }
}

// Runs in ring 3 (natively on kvm_pvm): the same loop as SpinWorkload.
void UserSpinBody(u64 status) {
  VcpuStatus* s = reinterpret_cast<VcpuStatus*>(status);
  for (;;) {
    s->heartbeat = s->heartbeat + 1;
    Pause();
  }
}

void UserSpinWorkload(u32 vcpu, const BootParams* bp) {
  (void)bp;
  EnterRing3(vcpu, &UserSpinBody, reinterpret_cast<u64>(StatusOf(vcpu)),
             /*interrupts_on=*/false);
}

// Indexed by Workload.
const WorkloadFn kWorkloads[] = {
    IdleWorkload,  // kWorkloadIdle
    SpinWorkload,  // kWorkloadSpin
    UserSpinWorkload,  // kWorkloadUserSpin
    kvmbed::guest::SmpWorkload,       // kWorkloadSmp (guest/workloads.cc)
    kvmbed::guest::IpiBenchWorkload,  // kWorkloadIpiBench
    kvmbed::guest::PvSpinlockWorkload,  // kWorkloadPvSpinlock (guest/pvspinlock.cc)
    kvmbed::guest::HotplugWorkload,     // kWorkloadHotplug (guest/hotplug.cc)
};

}  // namespace

// ---- C entry points called from start.S ----

struct ExceptionFrame {
  u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  u64 vector, error_code, rip, cs, rflags, rsp, ss;
};

extern "C" void guest_exception(ExceptionFrame* f) {
  static const char* const kNames[32] = {
      "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
      "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
      "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23",
      "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"};
  u32 vcpu = CurrentVcpu();
  Message* m = BeginMessage(vcpu, kMsgException, static_cast<u32>(f->vector));
  u64* a = m->args;
  a[kExcVector] = f->vector;
  a[kExcErrorCode] = f->error_code;
  a[kExcRip] = f->rip;
  a[kExcCs] = f->cs;
  a[kExcRflags] = f->rflags;
  a[kExcRsp] = f->rsp;
  a[kExcSs] = f->ss;
  a[kExcCr2] = ReadCr2();
  a[kExcRax] = f->rax; a[kExcRbx] = f->rbx; a[kExcRcx] = f->rcx;
  a[kExcRdx] = f->rdx; a[kExcRsi] = f->rsi; a[kExcRdi] = f->rdi;
  a[kExcRbp] = f->rbp; a[kExcR8] = f->r8; a[kExcR9] = f->r9;
  a[kExcR10] = f->r10; a[kExcR11] = f->r11; a[kExcR12] = f->r12;
  a[kExcR13] = f->r13; a[kExcR14] = f->r14; a[kExcR15] = f->r15;
  Text(m).Str(f->vector < 32 ? kNames[f->vector] : "?");
  StatusOf(vcpu)->state = kStateStopped;
  SendMessage(m);
  HaltForever();
}

extern "C" void guest_timer_irq() {
  VcpuStatus* s = StatusOf(CurrentVcpu());
  s->heartbeat = s->heartbeat + 1;
  Wrmsr(kX2apicEoi, 0);
}

extern "C" void guest_spurious_irq() {}  // no EOI for spurious interrupts

extern "C" void guest_main(u64 vcpu_id, const BootParams* bp) {
  u32 vcpu = static_cast<u32>(vcpu_id);
  if (bp != BootParamsPtr() || bp->magic != kBootMagic ||
      bp->abi_version != kAbiVersion) {
    Fatal(vcpu, "BootParams magic/abi_version mismatch: VMM and guest built "
                "from different guest/abi.h");
  }
  if (vcpu >= bp->num_vcpus || vcpu >= static_cast<u32>(kMaxVcpus) ||
      CurrentVcpu() != vcpu) {
    Fatal(vcpu, "vCPU id does not match its stack (RDI/RSP from the VMM)");
  }
  VcpuStatus* status = StatusOf(vcpu);
  status->state = kStateBooting;
  SetupIdt(vcpu);
  EnableX2apic(vcpu);
  if (vcpu == 0) {
    Message* m = BeginMessage(vcpu, kMsgConsole, 0);
    Text(m).Str("kvmbed guest: abi v").Dec(kAbiVersion).Str(", ")
        .Dec(bp->num_vcpus).Str(" vCPUs, workload ").Dec(bp->workload)
        .Str(", memory ").Dec(bp->memory_bytes >> 20).Str(" MiB");
    SendMessage(m);
  }
  asm volatile("" ::: "memory");
  status->state = kStateOnline;
  if (bp->fault != kFaultNone && bp->fault_vcpu == vcpu) CommitFault(vcpu, bp->fault);
  u32 workload = bp->vcpu_workload[vcpu];
  if (workload == kWorkloadDefault) workload = bp->workload;
  if (workload >= sizeof(kWorkloads) / sizeof(kWorkloads[0])) {
    Fatal(vcpu, "BootParams.workload/vcpu_workload: unknown workload number");
  }
  kWorkloads[workload](vcpu, bp);
  Message* m = BeginMessage(vcpu, kMsgDone, 0);
  status->state = kStateStopped;
  SendMessage(m);
  HaltForever();
}
