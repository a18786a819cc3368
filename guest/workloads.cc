// Guest workloads on top of guest/smp.h:
//  - SmpWorkload: scftorture's mix of smp_call_function primitives (with its
//    wanted-CPU and memory-ordering checks) interleaved with stress-like
//    workers: cpu (x87 sqrt loop), io (an exit to the VMM that writes and
//    fdatasyncs a scratch file), vm (touch and verify pages over a span).
//  - IpiBenchWorkload: on_cpu round trips, sender -> target, TSC deltas out.
// Every vCPU bumps its heartbeat once per loop iteration (never while it
// waits in csd_lock_wait), so a stuck waiter shows as a soft lockup.
#include "guest/smp.h"

#include "guest/cpu.h"
#include "guest/x2apic.h"

using namespace kvmbed::abi;

namespace kvmbed {
namespace guest {

namespace {

constexpr u32 kTimerVector = 32;
constexpr u32 kLvtPeriodic = 1u << 17;

[[noreturn]] void IdleForever(u32 vcpu) asm("smp_idle_loop");
void IoSlice(u32 self) asm("stress_io");
void VmSlice(u32 self, u32 slot, u32 worker) asm("stress_vm");

void Beat(u32 vcpu) {
  VcpuStatus* s = VcpuStatusOf(vcpu);
  s->heartbeat = s->heartbeat + 1;
}

// Finished: serve IPIs from hlt; the periodic timer keeps the heartbeat.
__attribute__((noinline)) void IdleForever(u32 vcpu) {
  SmpStatus* me = SmpStatusOf(vcpu);
  me->where = kWhereIdle;
  __atomic_store_n(&me->finished, 1, __ATOMIC_RELEASE);
  u64 ticks = Boot()->heartbeat_ticks ? Boot()->heartbeat_ticks : 10000000;
  WrmsrSmp(kX2apicTimerDiv, 0xb);
  WrmsrSmp(kX2apicLvtTimer, kTimerVector | kLvtPeriodic);
  WrmsrSmp(kX2apicTimerInit, ticks);
  for (;;) asm volatile("sti; hlt; cli" ::: "memory");
}

// ---- scftorture ----
// scf_check: shared by the invoker and the handler(s).
struct ScfCheck {
  volatile u32 in;   // set by the invoker before the call
  volatile u32 out;  // set by the handler when the invoker waits
  volatile u32 cpu;  // wanted CPU (kAllVcpus for many/all)
  volatile u32 wait;
  volatile u32 busy;  // slot in use ("allocated")
  u32 pad[3];
};
constexpr u32 kChecksPerCpu = 64;
ScfCheck g_checks[kMaxVcpus][kChecksPerCpu];
u32 g_check_next[kMaxVcpus];
u32 g_errors_reported[kMaxVcpus];

ScfCheck* AllocCheck(u32 self) {
  for (u32 i = 0; i < kChecksPerCpu; ++i) {
    u32 slot = (g_check_next[self] + i) % kChecksPerCpu;
    ScfCheck* c = &g_checks[self][slot];
    if (!__atomic_load_n(&c->busy, __ATOMIC_ACQUIRE)) {
      g_check_next[self] = slot + 1;
      c->busy = 1;
      c->in = 0;
      c->out = 0;
      c->cpu = kAllVcpus;
      c->wait = 0;
      return c;
    }
  }
  Count(self, kCntErrAlloc);
  return nullptr;
}
void FreeCheck(ScfCheck* c) { __atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE); }

void ScfError(u32 self, SmpCounter what, u64 wanted, u64 got) {
  Count(self, what);
  if (g_errors_reported[self]++ >= 10) return;
  Message* m = BeginReport(self, kReportScfError);
  m->args[0] = what;
  m->args[1] = wanted;
  m->args[2] = got;
  ReportText(m, what == kCntErrWrongCpu ? "scf_handler_1: wanted CPU "
                : what == kCntErrMbIn   ? "scf_handler: scfc_in clear on entry, check "
                                      : "invoker: memory-ordering failure (scfc_out clear), prim ");
  ReportDec(m, wanted);
  if (what == kCntErrWrongCpu) {
    ReportText(m, " got CPU ");
    ReportDec(m, got);
  }
  SendReport(m);
}

}  // namespace
}  // namespace guest
}  // namespace kvmbed

using namespace kvmbed::guest;

// The callbacks are extern "C" and out of line so the VMM symbolizes them.
extern "C" __attribute__((noinline)) void scf_handler(u64 info) {
  const u32 self = ThisCpu();
  ScfCheck* c = reinterpret_cast<ScfCheck*>(info);
  if (c) {
    c->out = 0;  // for multiple receivers
    if (!__atomic_load_n(&c->in, __ATOMIC_ACQUIRE)) ScfError(self, kCntErrMbIn, info, 0);
  }
  Count(self, kCntInvoked);
  u64 r = Random(self);
  if (!(r & 0xffc0)) DelayUs(r & 0x3f);
  // Fault injection: a slow (not lost) handler, as scftorture's longwait.
  const SmpParams* p = Params();
  if (p->handler_delay_ns && (p->fault_vcpu == kAllVcpus || p->fault_vcpu == self)) {
    DelayUs(p->handler_delay_ns / 1000);
  }
  if (!c) return;
  if (c->wait) {
    __atomic_store_n(&c->out, 1, __ATOMIC_RELEASE);
  } else {
    FreeCheck(c);
  }
}

// As scf_handler, but checks it runs on the wanted CPU.
extern "C" __attribute__((noinline)) void scf_handler_1(u64 info) {
  ScfCheck* c = reinterpret_cast<ScfCheck*>(info);
  const u32 self = ThisCpu();
  if (c && c->cpu != self) ScfError(self, kCntErrWrongCpu, c->cpu, self);
  scf_handler(info);
}

// The no-op callback of the IPI benchmark.
extern "C" __attribute__((noinline)) void ipi_bench_nop(u64 info) {
  asm volatile("" : : "r"(info) : "memory");
}

namespace kvmbed {
namespace guest {
namespace {

u32 g_total_weight;
void InvokeOne(u32 self) asm("scftorture_invoke_one");

SmpPrim PickPrim(u32 self) {
  u64 w = Random(self) % g_total_weight;
  const SmpParams* p = Params();
  for (u32 i = 0; i < kNumPrims; ++i) {
    if (w < p->weights[i]) return static_cast<SmpPrim>(i);
    w -= p->weights[i];
  }
  return kPrimSingle;
}

__attribute__((noinline)) void InvokeOne(u32 self) {
  const u32 n = Boot()->num_vcpus;
  SmpPrim prim = PickPrim(self);
  bool wait = prim == kPrimSingleWait || prim == kPrimManyWait || prim == kPrimAllWait;
  bool single = prim == kPrimSingle || prim == kPrimSingleWait;
  ScfCheck* c = nullptr;
  if (single || wait) {
    c = AllocCheck(self);
    if (c) c->wait = wait;
  }
  SmpStatus* me = SmpStatusOf(self);
  me->invoked[prim] = me->invoked[prim] + 1;
  u64 info = reinterpret_cast<u64>(c);
  switch (prim) {
    case kPrimResched: {
      u32 cpu = static_cast<u32>(Random(self) % n);
      if (cpu != self) SendReschedule(cpu);
      Count(self, kCntInvoked);
      break;
    }
    case kPrimSingle:
    case kPrimSingleWait: {
      u32 cpu = static_cast<u32>(Random(self) % n);
      if (c) {
        c->cpu = cpu;
        asm volatile("" ::: "memory");
        __atomic_store_n(&c->in, 1, __ATOMIC_RELEASE);
      }
      SmpCallFunctionSingle(cpu, scf_handler_1, info, wait);
      break;
    }
    case kPrimMany:
    case kPrimManyWait:
    case kPrimAll:
    case kPrimAllWait:
      if (c) __atomic_store_n(&c->in, 1, __ATOMIC_RELEASE);
      if (prim == kPrimMany || prim == kPrimManyWait) {
        SmpCallFunctionMany(OnlineMask(), scf_handler, info, wait);
      } else {
        SmpCallFunction(scf_handler, info, wait);
      }
      break;
    default:
      break;
  }
  if (c && wait) {
    if ((n > 1 || single) && !__atomic_load_n(&c->out, __ATOMIC_ACQUIRE)) {
      ScfError(self, kCntErrMbOut, prim, 0);  // leak rather than trash
    } else {
      FreeCheck(c);
    }
  }
}

// ---- stress workers ----
struct Roles {
  u32 cpu, io, vm;
  u32 vm_index[8];  // global vm worker indexes this vCPU runs
};

Roles RolesOf(u32 self) {
  const SmpParams* p = Params();
  const u32 n = Boot()->num_vcpus;
  Roles r = {};
  u32 k = 0;
  for (u32 i = 0; i < p->cpu_workers; ++i, ++k) r.cpu += (k % n == self);
  for (u32 i = 0; i < p->io_workers; ++i, ++k) r.io += (k % n == self);
  for (u32 i = 0; i < p->vm_workers; ++i, ++k) {
    if (k % n == self && r.vm < 8) r.vm_index[r.vm++] = i;
  }
  return r;
}

// stress --io: one write + fdatasync by the VMM.
__attribute__((noinline)) void IoSlice(u32 self) {
  SmpStatus* me = SmpStatusOf(self);
  u32 saved = me->where;
  me->where = kWhereIoExit;
  Message* m = BeginReport(self, kReportIoSync);
  m->args[0] = 4096;
  SendReport(m);
  me->where = saved;
  Count(self, kCntIoOps);
}

// stress --vm: per worker a span of vm_bytes; passes alternate between
// writing a pattern into every page and verifying it, a few pages a slice.
struct VmState {
  u64 pass;
  u64 page;
};
VmState g_vm[kMaxVcpus][8];

__attribute__((noinline)) void VmSlice(u32 self, u32 slot, u32 worker) {
  const SmpParams* p = Params();
  const u64 base = SmpHeapBase(Boot()->num_vcpus) + worker * p->vm_bytes;
  const u64 pages = p->vm_bytes / 4096;
  if (pages == 0) return;
  VmState& st = g_vm[self][slot];
  for (int i = 0; i < 16; ++i) {
    u64 gpa = base + st.page * 4096;
    volatile u64* w = reinterpret_cast<volatile u64*>(gpa);
    u64 pattern = ((st.pass / 2) << 40) ^ gpa ^ 0x5aa5c33c0ff00ff0ull;
    if (st.pass % 2 == 0) {
      for (u32 j = 0; j < 512; j += 64) w[j] = pattern + j;
    } else {
      for (u32 j = 0; j < 512; j += 64) {
        u64 got = w[j];
        if (got != pattern + j) {
          Count(self, kCntVmErrors);
          if (g_errors_reported[self]++ < 10) {
            Message* m = BeginReport(self, kReportVmCorruption);
            m->args[0] = gpa + j * 8;
            m->args[1] = pattern + j;
            m->args[2] = got;
            ReportText(m, "stress --vm: corrupt word");
            SendReport(m);
          }
        }
      }
      Count(self, kCntVmPages);
    }
    if (++st.page == pages) {
      st.page = 0;
      ++st.pass;
    }
  }
}

}  // namespace
}  // namespace guest
}  // namespace kvmbed

// stress --cpu as stress's hogcpu: sqrt() of pseudo-random numbers, here
// with SSE2 in ring 3, where kvm_pvm runs guest code natively (the guest
// is built -mgeneral-regs-only: the FP is inline asm on xmm0 and nothing
// else in the guest touches xmm registers). Bumps the heartbeat per slice.
extern "C" __attribute__((noinline, noreturn)) void stress_cpu_user(u64 vcpu64) {
  const u32 vcpu = static_cast<u32>(vcpu64);
  u64 x = 0x9e3779b97f4a7c15ull ^ vcpu;
  for (;;) {
    u64 acc = 0;
    for (int i = 0; i < 4096; ++i) {
      x ^= x >> 12;
      x ^= x << 25;
      x ^= x >> 27;
      u64 v = (x * 0x2545f4914f6cdd1dull) >> 12;
      u64 root;
      asm volatile(
          "cvtsi2sdq %1, %%xmm0\n\t"
          "sqrtsd %%xmm0, %%xmm0\n\t"
          "cvttsd2siq %%xmm0, %0"
          : "=r"(root)
          : "r"(v));
      acc += root;
    }
    asm volatile("" : : "r"(acc));
    Count(vcpu, kCntCpuOps);
    VcpuStatus* s = VcpuStatusOf(vcpu);
    s->heartbeat = s->heartbeat + 1;
  }
}

namespace kvmbed {
namespace guest {

namespace {

// The torture op loop; ring 0 or ring 3 (SmpParams::user_mode).
[[noreturn]] void OpLoop(u32 vcpu) {
  const SmpParams* p = Params();
  u32 total_weight = g_total_weight;
  const bool invoker = p->invokers == 0 || vcpu < p->invokers;
  Roles roles = RolesOf(vcpu);
  for (u64 op = 0; p->ops_per_vcpu == 0 || op < p->ops_per_vcpu; ++op) {
    Beat(vcpu);
    if (invoker && total_weight) InvokeOne(vcpu);
    for (u32 i = 0; i < roles.io; ++i) IoSlice(vcpu);
    for (u32 i = 0; i < roles.vm; ++i) VmSlice(vcpu, i, roles.vm_index[i]);
    Count(vcpu, kCntOps);
    if ((!invoker || !total_weight) && !roles.io && !roles.vm) break;
  }
  IdleForever(vcpu);
}

}  // namespace
}  // namespace guest
}  // namespace kvmbed

extern "C" __attribute__((noinline, noreturn)) void smp_user_main(u64 vcpu) {
  kvmbed::guest::OpLoop(static_cast<u32>(vcpu));
}

namespace kvmbed {
namespace guest {

void SmpWorkload(u32 vcpu, const BootParams* bp) {
  (void)bp;
  const SmpParams* p = Params();
  SmpInitCpu(vcpu);
  WaitAllOnline();
  // Every vCPU computes the same total (a vCPU beyond scftorture's nthreads,
  // SmpParams::invokers, runs no torture ops of its own: see OpLoop).
  u32 total_weight = 0;
  for (u32 i = 0; i < kNumPrims; ++i) total_weight += p->weights[i];
  g_total_weight = total_weight;
  Roles roles = RolesOf(vcpu);
  SmpStatus* me = SmpStatusOf(vcpu);
  me->where = kWhereWorkload;
  if (roles.cpu > 0) {
    // A cpu worker owns its vCPU, as a `stress --cpu` process would: it has
    // no torture ops of its own (finished at once) and runs its FP loop in
    // ring 3 while serving everyone's IPIs.
    __atomic_store_n(&me->finished, 1, __ATOMIC_RELEASE);
    EnterRing3(vcpu, &stress_cpu_user, vcpu, /*interrupts_on=*/true);
  }
  if (p->user_mode) {
    // kvm_pvm runs ring 3 natively and emulates ring 0: the op loop's
    // bookkeeping runs far faster up here. Its few privileged instructions
    // (ICR wrmsr, report out, cli/sti, hlt) trap to smp_emulate_gp; the IPI
    // handlers run in ring 0 as always.
    EnterRing3(vcpu, &smp_user_main, vcpu, /*interrupts_on=*/true);
  }
  Sti();
  OpLoop(vcpu);
}

void IpiBenchWorkload(u32 vcpu, const BootParams* bp) {
  (void)bp;
  const SmpParams* p = Params();
  SmpInitCpu(vcpu);
  WaitAllOnline();
  SmpStatus* me = SmpStatusOf(vcpu);
  me->where = kWhereWorkload;
  Sti();
  if (vcpu == p->bench_sender) {
    volatile u64* out = reinterpret_cast<volatile u64*>(p->bench_out_gpa);
    const u64 total = p->bench_warmup + p->bench_iterations;
    for (u64 i = 0; i < total; ++i) {
      u64 t0 = Rdtsc();
      if (p->bench_path == kBenchOnCpu) {
        OnCpu(p->bench_target, ipi_bench_nop, i);
      } else {
        SmpCallFunctionSingleUnrecorded(p->bench_target, ipi_bench_nop, i);
      }
      u64 t1 = Rdtsc();
      if (i >= p->bench_warmup) out[i - p->bench_warmup] = t1 - t0;
      Beat(vcpu);
    }
    IdleForever(vcpu);
  }
  if (vcpu == p->bench_target && p->bench_target_spins) {
    for (;;) {
      Beat(vcpu);
      CpuRelax();
    }
  }
  IdleForever(vcpu);
}

}  // namespace guest
}  // namespace kvmbed
