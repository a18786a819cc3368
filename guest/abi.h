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
//   0x0000_3000 .. 0x0000_4000  SmpParams                          (VMM writes, guest reads)
//   0x0000_4000 .. 0x0000_8000  VcpuStatus[kMaxVcpus]  shared page (guest writes, VMM reads)
//   0x0000_8000 .. 0x0000_9000  ReproParams                        (VMM writes, guest reads)
//   0x0000_9000 .. 0x0001_0000  reproduce scenario state, PvLockShared / HotplugShared
//                               (guest writes, VMM reads and writes requests)
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
//   0x0100_0000 .. end of RAM   free for guest workloads (heap); the SMP
//                               workloads (guest/smp.cc) put SmpStatus[kMaxVcpus],
//                               IRQ-context message buffers[kMaxVcpus] and
//                               Csd[num_vcpus][num_vcpus] at kSmpAreaGpa and
//                               their data above SmpHeapBase()
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

constexpr u32 kAbiVersion = 4;
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

// What a vCPU does once online. Dispatched per vCPU by the guest main loop.
enum Workload : u32 {
  // Halt; a periodic x2APIC timer interrupt bumps the heartbeat.
  kWorkloadIdle = 0,
  // Busy loop bumping the heartbeat (no halts, no exits).
  kWorkloadSpin = 1,
  // As kWorkloadSpin, but the loop runs in ring 3 (CPL 3), interrupts off.
  kWorkloadUserSpin = 2,
  // scftorture-like smp_call_function mix plus stress workers (SmpParams).
  kWorkloadSmp = 3,
  // On-cpu IPI round trips from SmpParams.bench_sender to bench_target.
  kWorkloadIpiBench = 4,
  // Reproduce scenarios (ReproParams): PV spinlocks, 76eaca031f0a (guest/pvspinlock.cc).
  kWorkloadPvSpinlock = 5,
  // CPU offline/online with call_single_queue, 8d056c48e486 (guest/hotplug.cc).
  kWorkloadHotplug = 6,
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

// ---- SMP: IPIs, csd locks, stress workers (guest/smp.cc) ----

constexpr u64 kSmpParamsGpa = 0x3000;
// The SMP area at the bottom of the heap: SmpStatus[kMaxVcpus] (1024 bytes
// each), then one IRQ-context Message buffer per vCPU (512 bytes each), then
// the csds.
constexpr u64 kSmpAreaGpa = kHeapBase;
constexpr u64 kSmpStatusStride = 1024;
constexpr u64 kSmpIrqMessageGpa = kSmpAreaGpa + kMaxVcpus * kSmpStatusStride;
constexpr u64 kSmpIrqMessageStride = 512;
constexpr u64 kCsdAreaGpa = kSmpIrqMessageGpa + kMaxVcpus * kSmpIrqMessageStride;

// x2APIC vectors of the guest plane (the Linux x86 numbers).
constexpr u32 kVectorCallFunctionSingle = 0xfb;
constexpr u32 kVectorReschedule = 0xfd;
constexpr u32 kVectorOnCpu = 0xf0;  // the bench's on_cpu mailbox IPI


// scftorture's primitives (its SCF_PRIM_* with the wait/no-wait split).
enum SmpPrim : u32 {
  kPrimResched = 0,     // resched_cpu(): a reschedule IPI to a random vCPU
  kPrimSingle,          // smp_call_function_single(random, no wait)
  kPrimSingleWait,      // smp_call_function_single(random, wait)
  kPrimMany,            // smp_call_function_many(online mask, no wait)
  kPrimManyWait,        // smp_call_function_many(online mask, wait)
  kPrimAll,             // smp_call_function(no wait)
  kPrimAllWait,         // smp_call_function(wait)
  kNumPrims,
};

// Csd::flags
constexpr u32 kCsdLock = 1;  // owned by a request in flight (CSD_FLAG_LOCK)
constexpr u32 kCsdSync = 2;  // the sender waits: unlock after func returns

// One call_single_data. The sender's csd for target T lives at
// CsdGpa(num_vcpus, sender, T), so every csd GPA the VMM sees decodes.
struct alignas(64) Csd {
  volatile u64 next;   // call_single_queue link: GPA of the next Csd, 0 = end
  volatile u32 flags;  // kCsdLock | kCsdSync
  volatile u32 src;    // sending vCPU
  volatile u32 dst;    // target vCPU
  volatile u32 reserved0;
  volatile u64 func;   // guest address of the callback (symbolized by the VMM)
  volatile u64 info;   // its argument
  volatile u64 seq;    // sender's request number
  volatile u64 queued_tsc;  // guest TSC when queued
  volatile u64 reserved1;
};
static_assert(sizeof(Csd) == 64, "Csd is one cache line");

constexpr u64 CsdGpa(u32 num_vcpus, u32 sender, u32 target) {
  return kCsdAreaGpa + (static_cast<u64>(sender) * num_vcpus + target) * sizeof(Csd);
}
// First byte above the csd area, 2 MiB aligned: stress / bench data go here.
constexpr u64 SmpHeapBase(u32 num_vcpus) {
  return (CsdGpa(num_vcpus, num_vcpus, 0) + (2ull << 20) - 1) & ~((2ull << 20) - 1);
}

// What a vCPU is doing (SmpStatus::where).
enum SmpWhere : u32 {
  kWhereBoot = 0,
  kWhereWorkload = 1,   // running its op loop
  kWhereHandler = 2,    // in the IPI handler
  kWhereCsdWait = 3,    // spinning in csd_lock_wait
  kWhereIdle = 4,       // finished its ops; idles in hlt serving IPIs
  kWhereIoExit = 5,     // in an io stress exit
};

// Per-vCPU counters (SmpStatus::count).
enum SmpCounter : u32 {
  kCntInvoked = 0,      // handler invocations on this vCPU (scf_invoked_count)
  kCntIpisSent,         // ICR writes
  kCntIpiIrqs,          // call-function interrupts taken
  kCntIpisDropped,      // interrupts dropped by fault injection
  kCntReschedIrqs,      // reschedule interrupts taken
  kCntCsdHandled,       // csds run from the queue
  kCntErrWrongCpu,      // handler ran on another vCPU than wanted (ste)
  kCntErrMbIn,          // handler saw scfc_in clear (stnmie)
  kCntErrMbOut,         // waiter saw scfc_out clear (stnmoe)
  kCntErrAlloc,         // no free check slot (staf)
  kCntCsdStalls,        // csd_lock_wait reports (first report per stall)
  kCntCsdResends,       // IPIs re-sent by csd_lock_wait (csdlock_debug)
  kCntMaxCsdWaitCycles, // longest csd_lock_wait seen, in TSC cycles (incl. csd reuse waits)
  kCntCpuOps,           // stress --cpu loop iterations
  kCntIoOps,            // stress --io syncs
  kCntVmPages,          // stress --vm pages touched and verified
  kCntVmErrors,         // stress --vm corrupt words
  kCntOps,              // torture ops done
  kNumCounters,
};

// Log2 latency buckets, the host plane's rule (hostplane/host_plane.h
// LatencyHistogram): bucket 0 holds waits <= 1 ns, bucket b > 0 holds
// (2^(b-1), 2^b] ns; the last bucket also holds everything longer.
constexpr u32 kLatencyBuckets = 48;

// One guest-plane latency sample is one smp_call_function_single/many/all
// call with wait=1 that queued a csd on at least one other vCPU: from the
// call's entry (before it takes the csd locks) to the instant the caller sees
// the last of its csds unlocked (every callback returned). Calls to the
// calling vCPU only run locally and are no sample.
//
// Cumulative part (buckets, count, sum_ns, max_ns): a seqcount. The owner
// vCPU makes `seq` odd, updates, makes it even again (x86 keeps its stores in
// order; the compiler is fenced). The VMM copies the struct and keeps the
// copy only when `seq` was even and unchanged around the copy; otherwise it
// retries or keeps its previous copy. No locks; the guest never waits.
//
// Per-period maximum (window_*): the VMM owns SmpParams::window_epoch and
// bumps it to close a period; each vCPU keeps two slots indexed by epoch
// parity. Record: e = load(epoch); update slot e&1 (reset first when it holds
// an older epoch: max, then epoch); full fence; if load(epoch) != e now, also
// record into the new epoch's slot. The VMM: epoch = e+1; full fence; read
// slot e&1 (epoch first, then max; use it only when its epoch == e). That is
// the store-buffering shape with a fence on both sides (docs/DESIGN.md): either
// the VMM's read sees the guest's update or the guest's re-check sees the new
// epoch, so a sample is never lost, at worst counted in a later period. The
// one vCPU is the only writer of its slots and the VMM the only writer of the
// epoch.
struct CsdWaitLatency {
  volatile u64 seq;  // odd while the owner updates the cumulative part
  volatile u64 count;
  volatile u64 sum_ns;
  volatile u64 max_ns;
  volatile u64 buckets[kLatencyBuckets];
  volatile u64 window_epoch[2];   // epoch whose maximum the slot holds
  volatile u64 window_max_ns[2];  // longest sample of that epoch
};

struct alignas(64) SmpStatus {
  // Linux's per-CPU cur_csd / cur_csd_func / cur_csd_info: what the handler
  // is running now (0 = nothing).
  volatile u64 cur_csd;
  volatile u64 cur_func;
  volatile u64 cur_info;
  // This vCPU's call_single_queue: a lock-free llist of Csd GPAs.
  volatile u64 queue;
  volatile u32 where;     // SmpWhere
  volatile u32 finished;  // 1 once the op loop is done
  // The csd this vCPU is waiting for in csd_lock_wait (0 = none).
  volatile u64 wait_csd;
  volatile u64 wait_start_tsc;
  volatile u64 last_ipi_tsc;  // last call-function interrupt taken
  volatile u64 invoked[kNumPrims];  // ops done per primitive
  volatile u64 count[kNumCounters];
  // 1 once this vCPU's IPI vectors are installed: nobody may queue a csd on
  // it or IPI it before (WaitAllOnline waits for every vCPU's flag).
  volatile u32 ready;
  // target + 1 while this vCPU is between queueing a csd on `target` and
  // its ICR write (0 otherwise): an IPI still in flight at the sender, so
  // the VMM does not call that target's queue lost.
  volatile u32 sending_to;
  // Call latency of this vCPU's smp_call_function_single/many/all(wait=1)
  // calls (CsdWaitLatency, written by this vCPU only).
  CsdWaitLatency latency;
};
static_assert(sizeof(SmpStatus) <= kSmpStatusStride, "SmpStatus fits its slot");

constexpr u64 SmpStatusGpa(u32 vcpu) { return kSmpAreaGpa + vcpu * kSmpStatusStride; }
// Where an IPI handler builds its messages (never the vCPU's normal buffer,
// which the interrupted code may be filling).
static_assert(sizeof(Message) <= kSmpIrqMessageStride, "Message fits its IRQ slot");
constexpr u64 SmpIrqMessageGpa(u32 vcpu) {
  return kSmpIrqMessageGpa + vcpu * kSmpIrqMessageStride;
}

struct SmpParams {
  u32 weights[kNumPrims];  // scftorture weights (0 disables a primitive)
  u32 reserved0;
  u64 ops_per_vcpu;        // torture ops per vCPU; 0 = until the run ends
  u64 csd_timeout_ns;      // csd_lock_wait report threshold (> 0)
  u32 csd_resend;          // 1: re-send the IPI on a report (csdlock_debug)
  u32 fault_vcpu;           // vCPU with the injected faults below, or kAllVcpus
  u32 drop_ppm;            // fraction dropped, parts per million (0 = none)
  u32 cpu_workers;         // stress --cpu N (spread round-robin over vCPUs)
  u32 io_workers;          // stress --io N
  u32 vm_workers;          // stress --vm N
  u64 vm_bytes;            // stress --vm-bytes, per worker
  u64 seed;                // PRNG seed
  u64 handler_delay_ns;    // fault injection: fault_vcpu's scf handlers busy-wait this long
  u32 invokers;            // vCPUs 0..invokers-1 run torture ops (scftorture's nthreads); 0 = all
  u32 user_mode;           // 1: the op loop runs in ring 3 (privileged instructions trap-and-emulate)
  // bench (kWorkloadIpiBench)
  u32 bench_sender;
  u32 bench_target;
  u32 bench_target_spins;  // 0: target idles in hlt, 1: target spins (IF=1)
  u32 bench_path;          // BenchPath

  u64 bench_iterations;    // samples written (after bench_warmup)
  u64 bench_warmup;
  u64 bench_out_gpa;       // u64 TSC deltas, bench_iterations of them
  // The VMM bumps it (atomically, then a full fence) to close a period of
  // the per-period csd wait maximum; see CsdWaitLatency. The guest only
  // reads it (atomic loads: it changes while the guest runs).
  u64 window_epoch;
};
constexpr u32 kAllVcpus = 0xffffffffu;

// SmpParams::bench_path: what one round trip goes through.
enum BenchPath : u32 {
  // smp_call_function_single(wait): csd, call_single_queue, csd_lock_wait.
  kBenchCsd = 0,
  // kvm-unit-tests' on_cpu protocol: one mailbox, ICR write, the handler
  // runs the function and sets `done`, the sender spins on it.
  kBenchOnCpu = 1,
};
static_assert(sizeof(SmpParams) <= 0x1000, "SmpParams fits its page");

// Message::code of kMsgReport.
enum ReportCode : u32 {
  kReportText = 0,       // free text (console-like)
  // csd_lock_wait past its threshold. args: see CsdReportArg.
  kReportCsdStall = 1,
  // A reported csd_lock_wait ended. args: see CsdReportArg.
  kReportCsdUnstuck = 2,
  // An scftorture check failed. args[0] = SmpCounter, [1] wanted, [2] got.
  kReportScfError = 3,
  // stress --vm found a corrupt word. args[0] = GPA, [1] expected, [2] got.
  kReportVmCorruption = 4,
  // stress --io: the VMM writes args[0] bytes to its scratch file and
  // fdatasyncs it before the guest resumes.
  kReportIoSync = 5,
  // "IPI on offline CPU %d" (guest/hotplug.cc): a call-function IPI reached
  // an offline vCPU. args[0] = vCPU, [1] = csds in its queue, [2..9] = the
  // first queued csds' func (what the kernel lists as "IPI callback %pS
  // sent to offline CPU"), [10] = 1 if it ran them (it never does: dead).
  kReportOfflineIpi = 6,
};

enum CsdReportArg : u32 {
  kCsdArgContinued = 0,  // 0 = first report (Detected), 1 = Continued
  kCsdArgBugId,          // #N
  kCsdArgWaiter,
  kCsdArgTarget,
  kCsdArgFunc,
  kCsdArgInfo,
  kCsdArgWaitNs,
  kCsdArgCsd,            // GPA of the csd
  kCsdArgSeq,
  kCsdArgTargetCurCsd,   // the target's cur_csd as the waiter read it
  kCsdArgResends,        // IPIs re-sent so far for this wait
  kCsdNumArgs,
};
static_assert(kCsdNumArgs <= kMessageArgs, "csd report fits");

// ---- reproduce scenarios (guest/pvspinlock.cc, guest/hotplug.cc) ----
// Both run on top of the SMP core (SmpParams, call_single_queue) and use at
// most kReproMaxVcpus vCPUs (their waiter sets are 64-bit masks).

constexpr u64 kReproParamsGpa = 0x8000;
constexpr u64 kReproSharedGpa = 0x9000;
constexpr u64 kReproSharedLimit = 0x10000;
constexpr u32 kReproMaxVcpus = 64;

// Vectors of the scenarios (class 0xe: below the SMP vectors).
constexpr u32 kVectorPvKick = 0xe2;     // xen's lock_kicker_irq: wakes a polling waiter
constexpr u32 kVectorPvIoIrq = 0xe3;    // "endio": its handler wakes a task (try_to_wake_up)
constexpr u32 kVectorHotplugTick = 0xe4;  // timer: a halted vCPU polls hotplug requests

// ReproParams::pv_kick: who xen_spin_unlock_slow kicks.
enum PvKick : u32 {
  kPvKickFirst = 0,  // the first waiter in CPU order only (before 76eaca031f0a)
  kPvKickAll = 1,    // every waiter (the fix)
};

struct ReproParams {
  // ---- pvspinlock-kick ----
  u32 pv_kick;          // PvKick
  u32 pv_spin_loops;    // lock attempts before the slow path (SPIN_THRESHOLD)
  u32 pv_holder;        // vCPU that holds the lock for a while and raises the io interrupt
  u32 pv_irq_vcpu;      // waiter that takes the io interrupt (CPU n-#, the lower id)
  u32 pv_task_vcpu;     // waiter whose task the handler wakes (CPU n, task x on_cpu)
  u32 pv_irq_ppm;       // chance per holder round of raising the io interrupt
  u64 pv_hold_ns;       // the holder holds the lock [hold/2, hold)
  u64 pv_think_ns;      // waiters pause up to this long between acquisitions
  // ---- offline-csd-flush ----
  u32 hp_target;        // the vCPU taken offline and back
  u32 hp_flush;         // 1: flush call_single_queue at CPU_DYING (the fix)
  u64 hp_dying_window_ns;  // stop_machine: interrupts off before it is marked offline
  u64 hp_tick_ns;       // poll period of halted vCPUs for hotplug requests
  u64 reserved[8];
};
static_assert(sizeof(ReproParams) <= 0x1000, "ReproParams fits its page");

// PvCpu::state
enum PvState : u32 {
  kPvRunning = 0,   // outside the lock
  kPvSpinning = 1,  // fast path: bounded spin
  kPvPolling = 2,   // slow path: registered, halted until kicked (xen_poll_irq)
  kPvHolding = 3,   // holds the lock
  kPvInIrq = 4,     // in the io interrupt handler (see PvCpu::irq_from)
};

struct alignas(64) PvCpu {
  volatile u32 waiting;       // 1 while registered as a waiter (xen's lock_spinners)
  volatile u32 state;         // PvState
  volatile u32 irq_from;      // PvState when the io interrupt came
  volatile u32 kick_pending;  // set by the unlocker before its kick IPI
  volatile u64 acquisitions;
  volatile u64 slow_waits;    // times it went to the slow path and polled
  volatile u64 kicks_taken;   // kick interrupts taken
  volatile u64 wait_start_tsc;
  volatile u64 irq_start_tsc;
  volatile u64 irqs;          // io interrupts taken
  volatile u64 kicks_sent;    // kicks unlockers sent it (atomic adds)
  volatile u32 unlocking;     // 1 from its release to its last kick (xen_spin_unlock)
  volatile u32 reserved0;
};
static_assert(sizeof(PvCpu) == 128, "PvCpu is two cache lines");

struct PvLockShared {
  volatile u32 lock;          // 0 free, 1 held (xen's byte lock)
  volatile u32 owner;         // holder vCPU + 1, 0 when free
  volatile u64 acquisitions;  // every vCPU's, total
  volatile u64 unlocks;       // completed unlocks (counted after their kicks)
  volatile u64 slow_unlocks;  // unlocks that found waiters and kicked
  volatile u64 critical;      // slow unlocks with a waiter in a nested io interrupt and another polling
  volatile u64 on_cpu;        // task x still on pv_task_vcpu (try_to_wake_up spins on it)
  volatile u64 last_unlock_tsc;
  volatile u32 last_unlocker;
  volatile u32 last_kicked_count;
  volatile u64 last_waiters;  // waiter mask seen by the last slow unlock
  volatile u64 last_kicked;   // vCPUs it kicked
  volatile u64 last_unlock_seq;  // unlocks value at the last slow unlock
  volatile u64 irqs_raised;
  u64 pad[2];
  PvCpu cpu[kReproMaxVcpus];
};
static_assert(kReproSharedGpa + sizeof(PvLockShared) <= kReproSharedLimit, "PvLockShared fits");

// HotplugShared::request / HotplugCpu::state
enum HotplugState : u32 {
  kHpOnline = 0,
  kHpGoingDown = 1,  // stop_machine: interrupts off, still marked online
  kHpDying = 2,      // marked offline, CPU_DYING notifiers
  kHpDead = 3,       // parked: ignores call-function IPIs
  kHpComingUp = 4,
};

struct HotplugShared {
  volatile u32 request;       // VMM: kHpOnline or kHpDead for hp_target; the target polls it
  volatile u32 state;         // HotplugState of hp_target
  volatile u64 cycles;        // completed offline/online cycles
  volatile u64 calls;         // async csd calls queued by the callers
  volatile u64 skipped;       // loop turns without a call: the target was offline
  volatile u64 down_tsc;      // when the target disabled interrupts for offline
  volatile u64 dying_tsc;     // when it marked itself offline
  volatile u64 dying_queued;  // csds in its queue at CPU_DYING (last cycle)
  volatile u64 dying_flushed; // csds run by the CPU_DYING flush (total)
  volatile u64 late_csds;     // csds whose IPI arrived after the target disabled interrupts
  volatile u64 offline_ipis;  // call-function IPIs taken while offline ("IPI on offline CPU")
  volatile u64 offline_ipi_tsc;    // the last one
  volatile u64 offline_ipi_queue;  // csds in the queue at the last one
  // The last CPU_DYING that left csds in the queue (no flush): evidence.
  volatile u64 unflushed_csd;    // GPA of the queue head then (0 = never)
  volatile u64 unflushed_count;  // csds left
  volatile u64 unflushed_cycle;  // which offline cycle (cycles + 1 then)
  volatile u64 unflushed_down_tsc;
  volatile u64 unflushed_dying_tsc;
  // stop_machine: the target bumps stop_gen (interrupts still on); each
  // caller queues its last async csd, acks (ack_gen = stop_gen), and once
  // the target disabled interrupts (state kHpGoingDown) delivers that csd's
  // IPI, late (sent_gen = stop_gen); then it waits until the target is dead.
  volatile u32 stop_gen;
  volatile u32 reserved0;
  volatile u32 ack_gen[kReproMaxVcpus];
  volatile u32 sent_gen[kReproMaxVcpus];
};
static_assert(kReproSharedGpa + sizeof(HotplugShared) <= kReproSharedLimit, "HotplugShared fits");

}  // namespace abi
}  // namespace kvmbed

#endif  // KVMBED_GUEST_ABI_H_
