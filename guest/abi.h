// The guest <-> VMM ABI of kvmbed. This is the ONLY header shared by the
// freestanding guest (guest/) and the VMM (vmm/). It must stay includable from
// both sides: no libc, no absl, no C++ library headers, only fixed-width
// types spelled through compiler builtins.
//
// Versioning: kAbiVersion is bumped on every incompatible change. The VMM
// writes it into BootParams; the guest refuses to run (a kMsgFatal message,
// then it halts) when magic or version differ from what it was built with.
//
// Guest physical memory map (identity mapped, GPA == guest virtual address):
//
//   0x0000_0000 .. 0x0000_1000  unused (never written by either side)
//   0x0000_1000 .. 0x0000_2000  GDT: null, code, data, TSS, user data, user code (VMM)
//   0x0000_2000 .. 0x0000_3000  BootParams                         (VMM writes, guest reads)
//   0x0000_4000 .. 0x0000_8000  VcpuStatus[kMaxVcpus]  shared page (guest writes, VMM reads)
//   0x0001_0000 .. 0x0001_6000  page tables: PML4, PDPT, 4 PDs     (VMM)
//   0x0010_0000 .. 0x0040_0000  guest ELF PT_LOAD segments (kImageBase..kImageLimit)
//   0x0040_0000 .. 0x00c0_0000  per-vCPU areas, kPerCpuSize each:
//                                 +0x0000 .. +0x4000  stack (grows down from +0x4000)
//                                 +0x4000 .. +0x5000  IDT of this vCPU
//                                 +0x5000 .. +0x6000  Message buffer of this vCPU
//                                 +0x6000 .. +0x6068  TSS of this vCPU (RSP0 = stack top)
//                                 +0x6100 .. +0x8000  ring-3 stack (grows down from +0x8000)
//                               The VMM hands every per-vCPU area over zeroed,
//                               except the TSS it fills.
//   0x0100_0000 .. end of RAM   free for guest workloads (heap)
//
// RAM is at GPA [0, min(size, 3 GiB)) and, when larger, continues at 4 GiB;
// [3 GiB, 4 GiB) is a hole: an access there leaves the guest as an MMIO exit.
// The page tables identity-map the first 4 GiB with 2 MiB pages, writable and
// user-accessible (ring-3 workloads; no SMEP/SMAP). RAM beyond 4 GiB is not
// mapped in the guest yet.
//
// Entry: every vCPU starts in 64-bit long mode at the ELF entry point with
//   RDI = vCPU id, RSI = GPA of BootParams, RSP = top of its per-vCPU stack,
//   RFLAGS = 0x2 (interrupts off), CS = kCodeSelector, SS/DS/ES/FS/GS =
//   kDataSelector, TR = kTssSelector with its base already pointing at the
//   vCPU's own TSS (the GDT's TSS descriptor describes vCPU 0's; the guest
//   never reloads TR, so each vCPU keeps its own, with RSP0 = its stack top,
//   for interrupts and exceptions taken in ring 3).
//
// Speed note (kvm_pvm hosts, like this project's): ring-0 guest code is
// emulated instruction by instruction (~0.7 us each, unloaded); ring-3 code
// runs natively (a ring-3 counter loop ran ~87M iterations/s against ~0.4M/s
// for the same loop in ring 0). Keep ring-0 paths short; run hot workload loops in ring 3.
//
// Channel: the guest reports to the VMM with one port write per message:
//   `outl(kPortMessage, gpa_of_message)` where the 32-bit value is the GPA of
//   a Message (normally the vCPU's own buffer). The VMM copies the message
//   out through a bounds-checked translation before the guest resumes, so the
//   buffer may be reused as soon as the `out` instruction completes.
//   Heartbeats and "online" are plain stores to VcpuStatus: no exits.
#ifndef KVMBED_GUEST_ABI_H_
#define KVMBED_GUEST_ABI_H_

namespace kvmbed {
namespace abi {

typedef __UINT8_TYPE__ u8;
typedef __UINT16_TYPE__ u16;
typedef __UINT32_TYPE__ u32;
typedef __UINT64_TYPE__ u64;

constexpr u32 kAbiVersion = 1;
constexpr u64 kBootMagic = 0x6b766d6265643031ull;  // "kvmbed01"

constexpr int kMaxVcpus = 256;

// ---- memory map ----
constexpr u64 kGdtGpa = 0x1000;
constexpr u64 kBootParamsGpa = 0x2000;
constexpr u64 kStatusGpa = 0x4000;
constexpr u64 kPml4Gpa = 0x10000;
constexpr u64 kPdptGpa = 0x11000;
constexpr u64 kPdGpa = 0x12000;  // 4 pages: 4 GiB in 2 MiB pages
constexpr u64 kIdentityMapBytes = 4ull << 30;
constexpr u64 kImageBase = 0x100000;
constexpr u64 kImageLimit = 0x400000;
constexpr u64 kPerCpuBase = 0x400000;
constexpr u64 kPerCpuSize = 0x8000;
constexpr u64 kPerCpuStackOffset = 0x0000;
constexpr u64 kPerCpuStackSize = 0x4000;
constexpr u64 kPerCpuIdtOffset = 0x4000;
constexpr u64 kPerCpuMessageOffset = 0x5000;
constexpr u64 kPerCpuTssOffset = 0x6000;
constexpr u64 kPerCpuUserStackTop = 0x8000;  // offset of the ring-3 stack top
constexpr u64 kHeapBase = 0x1000000;
// Smallest RAM the layout needs (per-vCPU areas end at 12 MiB).
constexpr u64 kMinMemoryBytes = kHeapBase;
// RAM below this GPA; the rest of RAM starts at kHighMemGpa.
constexpr u64 kLowMemLimit = 3ull << 30;
constexpr u64 kHighMemGpa = 4ull << 30;

// GDT selectors (the VMM fills the GDT; the guest may reload them).
constexpr u16 kCodeSelector = 0x08;
constexpr u16 kDataSelector = 0x10;
constexpr u16 kTssSelector = 0x18;
constexpr u16 kUserDataSelector = 0x28;  // DPL 3; use with RPL 3 (0x2b)
constexpr u16 kUserCodeSelector = 0x30;  // DPL 3, 64-bit; RPL 3 (0x33)

constexpr u64 PerCpuArea(u32 vcpu) { return kPerCpuBase + vcpu * kPerCpuSize; }
constexpr u64 StackTop(u32 vcpu) {
  return PerCpuArea(vcpu) + kPerCpuStackOffset + kPerCpuStackSize;
}
constexpr u64 TssOf(u32 vcpu) { return PerCpuArea(vcpu) + kPerCpuTssOffset; }
constexpr u64 UserStackTop(u32 vcpu) { return PerCpuArea(vcpu) + kPerCpuUserStackTop; }

// ---- ports ----
// outl(kPortMessage, gpa of a Message): one message to the VMM.
constexpr u16 kPortMessage = 0x0600;

// ---- boot parameters (VMM -> guest, read-only for the guest) ----

// What a vCPU does once online. Dispatched per vCPU by the guest main loop;
// the next issue adds IPI / stress workloads here.
enum Workload : u32 {
  // Halt; a periodic x2APIC timer interrupt bumps the heartbeat.
  kWorkloadIdle = 0,
  // Busy loop bumping the heartbeat (no halts, no exits).
  kWorkloadSpin = 1,
  // As kWorkloadSpin, but the loop runs in ring 3 (CPL 3), interrupts off.
  kWorkloadUserSpin = 2,
  // In BootParams::vcpu_workload: use BootParams::workload.
  kWorkloadDefault = 0xffffffffu,
};

// A deliberate fault the VMM may ask one vCPU to commit, for tests of the
// error paths. Committed right after that vCPU marked itself online.
enum Fault : u32 {
  kFaultNone = 0,
  kFaultTriple = 1,    // load an empty IDT and execute ud2: triple fault
  kFaultUd = 2,        // ud2: #UD reported through the IDT
  kFaultGp = 3,        // non-canonical load: #GP
  kFaultPage = 4,      // load from an unmapped address (beyond 4 GiB): #PF
  kFaultBadPort = 5,   // out to a port the VMM does not know
  kFaultMmio = 6,      // load from the RAM hole: MMIO exit
  kFaultDivide = 7,    // divide by zero: #DE
  kFaultUserGp = 8,    // drop to ring 3 and execute cli: #GP taken via the TSS's RSP0
};

struct BootParams {
  u64 magic;            // kBootMagic
  u32 abi_version;      // kAbiVersion
  u32 num_vcpus;
  u64 memory_bytes;     // total guest RAM
  u32 workload;         // Workload of every vCPU without an entry in vcpu_workload
  u32 fault;            // Fault
  u32 fault_vcpu;       // which vCPU commits `fault`
  u32 reserved0;
  u64 heartbeat_ticks;  // x2APIC timer initial count (divide by 1), idle workload
  u64 tsc_khz;          // guest TSC frequency, 0 if unknown
  u32 sockets, cores, threads;  // topology; sockets*cores*threads == num_vcpus
  u32 reserved1;
  u64 reserved[8];
  // x2APIC id of each vCPU index (the destination for IPIs to it). vCPU i is
  // thread i % threads of core (i / threads) % cores of socket
  // i / (threads*cores); ids leave gaps when cores/threads are not powers of 2.
  u32 apic_id[kMaxVcpus];
  // Per-vCPU workload: kWorkloadDefault means "use `workload`".
  u32 vcpu_workload[kMaxVcpus];
};
static_assert(sizeof(BootParams) <= 0x1000, "BootParams fits its page");

// ---- shared status (guest writes, VMM reads; no exits) ----

enum VcpuState : u32 {
  kStateOff = 0,       // not started yet
  kStateBooting = 1,   // entered guest code
  kStateOnline = 2,    // IDT + x2APIC set up, running its workload
  kStateStopped = 3,   // reported an exception or finished; halted for good
};

struct alignas(64) VcpuStatus {
  volatile u32 state;      // VcpuState
  volatile u32 apic_id;    // x2APIC id the guest read from MSR 0x802
  volatile u64 heartbeat;  // bumped by the workload
  volatile u64 reserved[6];
};
static_assert(sizeof(VcpuStatus) == 64, "VcpuStatus is one cache line");
static_assert(kStatusGpa + kMaxVcpus * sizeof(VcpuStatus) <= kPml4Gpa,
              "status array overlaps the page tables");

// ---- messages (guest -> VMM through kPortMessage) ----

enum MessageType : u32 {
  kMsgConsole = 1,    // text: one console line (no trailing newline needed)
  kMsgException = 2,  // args: see ExceptionArg; text: exception name
  kMsgReport = 3,     // code + args + text, for future reports (csd, watchdog)
  kMsgDone = 4,       // the vCPU finished its workload and halts for good
  kMsgFatal = 5,      // text: why the guest refuses to go on; it halts for good
};

// Layout of Message::args for kMsgException.
enum ExceptionArg : u32 {
  kExcVector = 0, kExcErrorCode, kExcRip, kExcCs, kExcRflags, kExcRsp, kExcSs,
  kExcCr2, kExcRax, kExcRbx, kExcRcx, kExcRdx, kExcRsi, kExcRdi, kExcRbp,
  kExcR8, kExcR9, kExcR10, kExcR11, kExcR12, kExcR13, kExcR14, kExcR15,
  kExcNumArgs,
};

constexpr u32 kMessageArgs = 24;
constexpr u32 kMessageText = 256;

struct Message {
  u32 type;      // MessageType
  u32 vcpu;      // sender's vCPU id
  u32 code;      // type-specific
  u32 text_len;  // bytes used in text, <= kMessageText (the VMM checks)
  u64 args[kMessageArgs];
  char text[kMessageText];
};
static_assert(kExcNumArgs <= kMessageArgs, "exception frame fits");
static_assert(sizeof(Message) <= 0x1000, "Message fits in its per-vCPU page");

}  // namespace abi
}  // namespace kvmbed

#endif  // KVMBED_GUEST_ABI_H_
