// offline-csd-flush (8d056c48e486, seeds/004): CPU offline/online during a
// run (scftorture's onoff_interval) with smp_call_function_single callers.
//
// The VMM drives it through HotplugShared::request (kHpDead = take
// hp_target offline, kHpOnline = bring it back). The target idles in hlt
// serving IPIs; a periodic local-APIC tick (hp_tick_ns) wakes it to look at
// the request. Its offline path follows the kernel's stop_machine stages:
//   1. going down   interrupts off (MULTI_STOP_DISABLE_IRQ), then the
//                   stop_machine handshake (hp_dying_window_ns) while it is
//                   still marked online: a caller's IPI sent now cannot be
//                   taken; it arrives late.
//   2. dying        set_cpu_online(false), then the CPU_DYING notifiers:
//                   flush_smp_call_function_queue() when hp_flush (the fix),
//                   nothing otherwise (before the fix).
//   3. dead         parked in hlt until the request says online. A dead CPU
//                   runs no callbacks: a call-function IPI that reaches it
//                   (the late one, now that interrupts are on for the halt)
//                   prints the kernel's "IPI on offline CPU %d" warning with
//                   the queued callbacks and leaves the queue alone.
//   4. coming up    set_cpu_online(true).
// Callers (every other vCPU) loop on smp_call_function_single(target, wait)
// when cpu_online(target), as generic_exec_single() checks. Without the
// flush, a csd queued in the dying window stays in the queue of a dead CPU
// and its caller's csd_lock_wait never ends.
//
// Callers run in ring 3 (privileged steps trap to smp_emulate_gp); the
// target's loop and offline path run in ring 0 (it is halted nearly always).
#include "guest/repro.h"

using namespace kvmbed::abi;

extern "C" void irq_stub_228();

namespace kvmbed {
namespace guest {
namespace {

HotplugShared* Hp() { return reinterpret_cast<HotplugShared*>(kReproSharedGpa); }

constexpr u32 kMsrLvtTimer = 0x832;
constexpr u32 kMsrTimerInit = 0x838;
constexpr u32 kMsrTimerDiv = 0x83e;
constexpr u32 kLvtPeriodic = 1u << 17;

u32 QueueLength(u32 cpu, u64* funcs, u32 max_funcs) {
  u32 n = 0;
  for (u64 p = __atomic_load_n(&SmpStatusOf(cpu)->queue, __ATOMIC_ACQUIRE); p && n < 4096;
       p = reinterpret_cast<const Csd*>(p)->next) {
    if (n < max_funcs) funcs[n] = reinterpret_cast<const Csd*>(p)->func;
    ++n;
  }
  return n;
}

// "IPI on offline CPU %d": a call-function interrupt on a dead vCPU. The
// kernel WARNs once and lists the callbacks; a dead CPU runs none of them.
void OfflineIpi(u32 self) {
  HotplugShared* hp = Hp();
  u64 funcs[8] = {};
  u32 n = QueueLength(self, funcs, 8);
  hp->offline_ipis = hp->offline_ipis + 1;
  hp->offline_ipi_tsc = Rdtsc();
  hp->offline_ipi_queue = n;
  Message* m = BeginReport(self, kReportOfflineIpi);
  m->args[0] = self;
  m->args[1] = n;
  for (u32 i = 0; i < 8; ++i) m->args[2 + i] = funcs[i];
  m->args[10] = 0;
  ReportText(m, "IPI on offline CPU ");
  ReportDec(m, self);
  SendReport(m);
}

}  // namespace
}  // namespace guest
}  // namespace kvmbed

using namespace kvmbed::guest;

// The callers' callback: a no-op with the caller's sequence number.
extern "C" __attribute__((noinline)) void hotplug_probe(u64 info) {
  asm volatile("" : : "r"(info) : "memory");
}

extern "C" void hotplug_tick_irq() { Eoi(); }

// Kernel-like names for the RIPs the VMM symbolizes.
extern "C" __attribute__((noinline)) void take_cpu_down(u32 self) {
  HotplugShared* hp = Hp();
  const ReproParams* rp = Repro();
  // 1. going down: interrupts are off (we are called with them off).
  hp->down_tsc = Rdtsc();
  hp->state = kHpGoingDown;
  DelayUs(rp->hp_dying_window_ns / 1000);
  // 2. dying: marked offline, then the CPU_DYING notifiers.
  SetCpuOnline(self, false);
  hp->dying_tsc = Rdtsc();
  hp->state = kHpDying;
  u64 funcs[1];
  u32 queued = QueueLength(self, funcs, 0);
  hp->dying_queued = queued;
  hp->late_csds = hp->late_csds + queued;
  if (rp->hp_flush) {
    FlushSmpCallFunctionQueue(self);
    hp->dying_flushed = hp->dying_flushed + queued;
  }
}

// 3. dead: parked until the request says online; interrupts on only in hlt.
extern "C" __attribute__((noinline)) void cpuhp_dead_park(u32 self) {
  HotplugShared* hp = Hp();
  hp->state = kHpDead;
  while (__atomic_load_n(&hp->request, __ATOMIC_ACQUIRE) == kHpDead) {
    HeartBeat(self);
    asm volatile("sti; hlt; cli" ::: "memory");
  }
}

extern "C" __attribute__((noinline)) void cpuhp_bring_up(u32 self) {
  HotplugShared* hp = Hp();
  hp->state = kHpComingUp;
  SetCpuOnline(self, true);
  hp->cycles = hp->cycles + 1;
  hp->state = kHpOnline;
}

extern "C" __attribute__((noinline, noreturn)) void hotplug_caller_main(u64 vcpu64) {
  const u32 self = static_cast<u32>(vcpu64);
  const u32 target = Repro()->hp_target;
  HotplugShared* hp = Hp();
  for (u64 seq = 1;; ++seq) {
    HeartBeat(self);
    if (CpuOnline(target)) {
      SmpCallFunctionSingle(target, hotplug_probe, seq, true);
      __atomic_add_fetch(&hp->calls, 1, __ATOMIC_RELAXED);
    } else {
      __atomic_add_fetch(&hp->skipped, 1, __ATOMIC_RELAXED);
      DelayUs(50);
    }
  }
}

namespace kvmbed {
namespace guest {

// kWorkloadHotplug: the target serves IPIs and obeys hotplug requests; the
// others call it.
void HotplugWorkload(u32 vcpu, const BootParams* bp) {
  const ReproParams* rp = Repro();
  // Gates and the offline hook first: SmpInitCpu marks the vCPU ready.
  SetReproGate(vcpu, kVectorHotplugTick, &irq_stub_228);
  SetOfflineIpiHandler(&OfflineIpi);
  SmpInitCpu(vcpu);
  WaitAllOnline();
  SmpStatusOf(vcpu)->where = kWhereWorkload;
  if (vcpu != rp->hp_target) EnterUserWithInterrupts(vcpu, &hotplug_caller_main, vcpu);
  // The target: ring 0, interrupts off except in hlt.
  HotplugShared* hp = Hp();
  u64 ticks = rp->hp_tick_ns ? rp->hp_tick_ns : (bp->heartbeat_ticks ? bp->heartbeat_ticks : 1000000);
  WrmsrSmp(kMsrTimerDiv, 0xb);  // divide by 1: one tick per ns (guest/abi.h, KVM's 1 GHz bus)
  WrmsrSmp(kMsrLvtTimer, kVectorHotplugTick | kLvtPeriodic);
  WrmsrSmp(kMsrTimerInit, ticks);
  for (;;) {
    HeartBeat(vcpu);
    if (__atomic_load_n(&hp->request, __ATOMIC_ACQUIRE) == kHpDead) {
      take_cpu_down(vcpu);
      cpuhp_dead_park(vcpu);
      cpuhp_bring_up(vcpu);
      continue;
    }
    asm volatile("sti; hlt; cli" ::: "memory");
  }
}

}  // namespace guest
}  // namespace kvmbed
