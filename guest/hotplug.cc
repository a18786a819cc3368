// offline-csd-flush (8d056c48e486, seeds/004): CPU offline/online during a
// run (scftorture's onoff_interval) with async smp_call_function_single
// callers, modelled on the kernel's stop_machine-based CPU offline.
//
// The VMM drives it through HotplugShared::request (kHpDead = take
// hp_target offline, kHpOnline = bring it back). The target idles in hlt
// serving IPIs; a periodic local-APIC tick (hp_tick_ns) wakes it to look at
// the request. Offline (take_cpu_down) in the kernel's stages:
//   1. prepare      stop_gen++ with interrupts ON; wait until every caller
//                   has entered stop_machine (ack_gen). The lowest caller,
//                   before it acks, queues one last async csd on the target.
//   2. disable irq  interrupts off (state kHpGoingDown). Only now does that
//                   last call's IPI reach the target: sent before the
//                   caller entered stop_machine, it arrives late (the
//                   seed's "hardware latencies", made deterministic: the
//                   caller writes the ICR once it sees the target's
//                   interrupts off). It stays latched in its local APIC.
//   3. dying        set_cpu_online(false), then the CPU_DYING notifiers:
//                   flush_smp_call_function_queue() when hp_flush (the
//                   fix), nothing otherwise (before the fix).
//   4. dead         stop_machine ends; parked in hlt until the request says
//                   online. A dead CPU runs no callbacks: the late IPI, taken
//                   now that interrupts are on for the halt, prints the
//                   kernel's "IPI on offline CPU %d" warning with the queued
//                   callbacks and leaves the queue alone.
//   5. online       set_cpu_online(true).
// Without the flush the late csds stay queued and locked for good: the next
// call from the same caller waits for its csd in csd_lock -> csd_lock_wait
// and reports the stall (the csd sits in the target's call_single_queue).
//
// Callers (every other vCPU) run in ring 3 (privileged steps trap to
// smp_emulate_gp); the target runs in ring 0 (it is halted nearly always).
#include "guest/repro.h"
#include "guest/x2apic.h"

using namespace kvmbed::abi;

extern "C" void irq_stub_228();

namespace kvmbed {
namespace guest {
namespace {

HotplugShared* Hp() { return reinterpret_cast<HotplugShared*>(kReproSharedGpa); }

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
// kernel WARNs and lists the callbacks; a dead CPU runs none of them.
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

bool IsCaller(u32 cpu) { return cpu != Repro()->hp_target; }

}  // namespace
}  // namespace guest
}  // namespace kvmbed

using namespace kvmbed::guest;

// The callers' callback: a no-op with the caller's sequence number.
extern "C" __attribute__((noinline)) void hotplug_probe(u64 info) {
  asm volatile("" : : "r"(info) : "memory");
}

extern "C" void hotplug_tick_irq() { Eoi(); }

// Kernel-like names for the RIPs the VMM symbolizes. Called with
// interrupts off (the target's loop), returns with them off.
extern "C" __attribute__((noinline)) void take_cpu_down(u32 self) {
  HotplugShared* hp = Hp();
  const ReproParams* rp = Repro();
  const u32 n = Boot()->num_vcpus;
  // 1. prepare: every caller enters stop_machine; interrupts stay on, so
  //    the target keeps serving calls until then.
  u32 gen = hp->stop_gen + 1;
  __atomic_store_n(&hp->stop_gen, gen, __ATOMIC_SEQ_CST);
  Sti();
  for (u32 c = 0; c < n; ++c) {
    if (!IsCaller(c)) continue;
    while (__atomic_load_n(&hp->ack_gen[c], __ATOMIC_ACQUIRE) != gen) CpuRelax();
  }
  // 2. disable irq: the callers' last IPIs arrive from now on (late).
  asm volatile("cli" ::: "memory");
  hp->down_tsc = Rdtsc();
  __atomic_store_n(&hp->state, kHpGoingDown, __ATOMIC_SEQ_CST);
  for (u32 c = 0; c < n; ++c) {
    if (!IsCaller(c)) continue;
    while (__atomic_load_n(&hp->sent_gen[c], __ATOMIC_ACQUIRE) != gen) CpuRelax();
  }
  DelayUs(rp->hp_dying_window_ns / 1000);
  // 3. dying: marked offline, then the CPU_DYING notifiers.
  SetCpuOnline(self, false);
  hp->dying_tsc = Rdtsc();
  hp->state = kHpDying;
  u64 funcs[1];
  u32 queued = QueueLength(self, funcs, 0);
  hp->dying_queued = queued;
  if (rp->hp_flush) {
    FlushSmpCallFunctionQueue(self);
    hp->dying_flushed = hp->dying_flushed + queued;
  } else if (queued) {
    hp->unflushed_count = queued;
    hp->unflushed_cycle = hp->cycles + 1;
    hp->unflushed_down_tsc = hp->down_tsc;
    hp->unflushed_dying_tsc = hp->dying_tsc;
    hp->unflushed_csd = __atomic_load_n(&SmpStatusOf(self)->queue, __ATOMIC_ACQUIRE);
  }
}

// 4. dead: stop_machine is over; parked until the request says online,
// interrupts on only in hlt.
extern "C" __attribute__((noinline)) void cpuhp_dead_park(u32 self) {
  HotplugShared* hp = Hp();
  __atomic_store_n(&hp->state, kHpDead, __ATOMIC_SEQ_CST);
  // At least one halt with interrupts on, even when the request already
  // says online again: a dead CPU is dead for a while, and the IPIs latched
  // while it went down must reach it here, offline, not after bring-up.
  do {
    HeartBeat(self);
    asm volatile("sti; hlt; cli" ::: "memory");
  } while (__atomic_load_n(&hp->request, __ATOMIC_ACQUIRE) == kHpDead);
}

// 5. online.
extern "C" __attribute__((noinline)) void cpuhp_bring_up(u32 self) {
  HotplugShared* hp = Hp();
  hp->state = kHpComingUp;
  SetCpuOnline(self, true);
  hp->cycles = hp->cycles + 1;
  __atomic_store_n(&hp->state, kHpOnline, __ATOMIC_SEQ_CST);
}

// A caller's part of stop_machine: its last async call's IPI goes out only
// once the target's interrupts are off, then it waits for the target to die.
extern "C" __attribute__((noinline)) void multi_cpu_stop(u32 self, u32 gen, u32 target,
                                                         bool ipi_pending) {
  HotplugShared* hp = Hp();
  __atomic_store_n(&hp->ack_gen[self], gen, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&hp->state, __ATOMIC_ACQUIRE) == kHpOnline) CpuRelax();
  if (ipi_pending) {
    SendCallFunctionIpi(target);  // late: the target has interrupts off
    __atomic_add_fetch(&hp->late_csds, 1, __ATOMIC_RELAXED);
  }
  __atomic_store_n(&hp->sent_gen[self], gen, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&hp->state, __ATOMIC_ACQUIRE) != kHpDead &&
         __atomic_load_n(&hp->state, __ATOMIC_ACQUIRE) != kHpOnline) {
    CpuRelax();
  }
}

extern "C" __attribute__((noinline, noreturn)) void hotplug_caller_main(u64 vcpu64) {
  const u32 self = static_cast<u32>(vcpu64);
  const u32 target = Repro()->hp_target;
  // One caller (the lowest) makes the last call whose IPI arrives late. The
  // others enter stop_machine without a call: a csd of theirs queued behind
  // the late one gets no IPI of its own, and a caller that waited for it in
  // csd_lock before acking would stall stop_machine (in the kernel that IPI
  // would simply arrive, the target still has interrupts on).
  const u32 late_caller = target == 0 ? 1 : 0;
  HotplugShared* hp = Hp();
  u32 acked = 0;
  for (u64 seq = 1;; ++seq) {
    HeartBeat(self);
    const u32 gen = __atomic_load_n(&hp->stop_gen, __ATOMIC_ACQUIRE);
    if (gen != acked && (self != late_caller || !CpuOnline(target))) {
      acked = gen;
      multi_cpu_stop(self, gen, target, false);
      continue;
    }
    if (!CpuOnline(target)) {
      __atomic_add_fetch(&hp->skipped, 1, __ATOMIC_RELAXED);
      DelayUs(20);
      continue;
    }
    // smp_call_function_single(target, hotplug_probe, seq, wait=0): waits
    // here (csd_lock) while the previous call's csd is still locked.
    Csd* csd = CsdLockFor(target);
    bool need_ipi = CsdEnqueueAsync(csd, target, hotplug_probe, seq);
    __atomic_add_fetch(&hp->calls, 1, __ATOMIC_RELAXED);
    if (gen != acked) {  // the late caller's last call before stop_machine
      acked = gen;
      multi_cpu_stop(self, gen, target, need_ipi);
    } else if (need_ipi) {
      SendCallFunctionIpi(target);
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
  SetIdtGate(vcpu, kVectorHotplugTick, &irq_stub_228);
  SetOfflineIpiHandler(&OfflineIpi);
  SmpInitCpu(vcpu);
  WaitAllOnline();
  SmpStatusOf(vcpu)->where = kWhereWorkload;
  if (vcpu != rp->hp_target) {
    EnterRing3(vcpu, &hotplug_caller_main, vcpu, /*interrupts_on=*/true);
  }
  // The target: ring 0, interrupts off except in hlt.
  HotplugShared* hp = Hp();
  u64 ticks = rp->hp_tick_ns ? rp->hp_tick_ns : (bp->heartbeat_ticks ? bp->heartbeat_ticks : 1000000);
  WrmsrSmp(kX2apicTimerDiv, 0xb);  // divide by 1: one tick per ns (guest/abi.h, KVM's 1 GHz bus)
  WrmsrSmp(kX2apicLvtTimer, kVectorHotplugTick | kLvtPeriodic);
  WrmsrSmp(kX2apicTimerInit, ticks);
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
