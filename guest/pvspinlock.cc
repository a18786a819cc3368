// pvspinlock-kick (76eaca031f0a, seeds/002): Xen-style paravirtual spinlocks
// and the interleaving that deadlocked them.
//
// Lock (modelled on the 2013 arch/x86/xen/spinlock.c, our own code): a byte
// lock taken with xchg. A waiter spins pv_spin_loops attempts, then takes
// the slow path: it registers itself (lock_spinners), clears its kick flag,
// tries once more, and polls: it halts, interrupts enabled only for the
// halt (xen_poll_irq re-enables them when the lock was taken with
// spin_lock_irqsave from a context that had them on), until an unlocker
// kicks it. Unlock releases the byte, then kicks the registered waiters:
// the FIRST one in CPU order (kick=first, before the fix) or ALL of them
// (kick=all, the fix).
//
// Roles (ReproParams):
//   pv_holder     holds the lock [hold/2, hold) per round and, with chance
//                 pv_irq_ppm, raises the "endio" interrupt on pv_irq_vcpu
//                 at a random point of the hold (the seed's step 3).
//   pv_irq_vcpu   CPU n-#: takes the lock in a loop. Its io interrupt
//                 handler wakes task x (try_to_wake_up), which is still
//                 on_cpu on pv_task_vcpu: it spins until on_cpu clears.
//   pv_task_vcpu  CPU n: task x is scheduled away; it sets on_cpu, takes
//                 the lock, releases it, clears on_cpu (finish_task_switch).
//   others        plain contenders.
// Nothing is staged: whether the io interrupt lands while pv_irq_vcpu polls
// and pv_task_vcpu waits too depends on real timing. When it does, kick=first
// kicks only the busy pv_irq_vcpu; pv_task_vcpu polls forever, so on_cpu never
// clears and the handler never returns: the seed's deadlock.
//
// The loops run in ring 3 (kvm_pvm runs it natively); cli/sti/hlt/wrmsr
// trap to smp_emulate_gp. The interrupt handlers run in ring 0.
//
// Shared state: PvLockShared at kReproSharedGpa (the VMM reads it to detect
// the deadlock and explain it).
#include "guest/repro.h"

using namespace kvmbed::abi;

extern "C" {
void irq_stub_226();
void irq_stub_227();
}

namespace kvmbed {
namespace guest {
namespace {

PvLockShared* Pv() { return reinterpret_cast<PvLockShared*>(kReproSharedGpa); }
inline void Cli() { asm volatile("cli" ::: "memory"); }
inline void StiR() { asm volatile("sti" ::: "memory"); }
// From ring 3: traps; smp_emulate_gp halts with interrupts on for the halt
// only ("sti; hlt; cli"), so a kick that came after the check wakes it.
inline void HaltOnce() { asm volatile("hlt" ::: "memory"); }

// Cycles for `ns`, at least 1.
u64 Cyc(u64 ns) {
  u64 c = NsToCycles(ns);
  return c ? c : 1;
}

void DelayCycles(u64 cycles) {
  u64 end = Rdtsc() + cycles;
  while (Rdtsc() < end) CpuRelax();
}

}  // namespace
}  // namespace guest
}  // namespace kvmbed

using namespace kvmbed::guest;

// The callbacks and lock functions are extern "C", out of line, named after
// their kernel counterparts, so the VMM's symbolized RIPs read like a trace.
extern "C" __attribute__((noinline)) bool xen_spin_trylock(u32 self) {
  PvLockShared* pv = Pv();
  if (__atomic_load_n(&pv->lock, __ATOMIC_RELAXED) != 0) return false;
  if (__atomic_exchange_n(&pv->lock, 1, __ATOMIC_ACQUIRE) != 0) return false;
  pv->owner = self + 1;
  PvCpu* me = &pv->cpu[self];
  me->state = kPvHolding;
  me->acquisitions = me->acquisitions + 1;
  __atomic_add_fetch(&pv->acquisitions, 1, __ATOMIC_RELAXED);
  return true;
}

// Called with interrupts off (spin_lock_irqsave).
extern "C" __attribute__((noinline)) void xen_spin_lock(u32 self) {
  PvLockShared* pv = Pv();
  PvCpu* me = &pv->cpu[self];
  const u32 spins = Repro()->pv_spin_loops ? Repro()->pv_spin_loops : 1;
  for (;;) {
    me->state = kPvSpinning;
    for (u32 i = 0; i < spins; ++i) {
      if (xen_spin_trylock(self)) return;
      CpuRelax();
    }
    // xen_spin_lock_slow: announce, clear the kick, recheck, poll.
    __atomic_store_n(&me->kick_pending, 0, __ATOMIC_RELAXED);
    me->wait_start_tsc = Rdtsc();
    // A full barrier between registering and the recheck (the unlocker
    // releases, then reads the registrations: store-buffering shape).
    __atomic_store_n(&me->waiting, 1, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (xen_spin_trylock(self)) {
      __atomic_store_n(&me->waiting, 0, __ATOMIC_RELEASE);
      return;
    }
    me->slow_waits = me->slow_waits + 1;
    me->state = kPvPolling;
    while (!__atomic_load_n(&me->kick_pending, __ATOMIC_ACQUIRE)) HaltOnce();
    __atomic_store_n(&me->waiting, 0, __ATOMIC_RELEASE);
  }
}

extern "C" __attribute__((noinline)) void xen_spin_unlock(u32 self) {
  PvLockShared* pv = Pv();
  PvCpu* me = &pv->cpu[self];
  me->state = kPvRunning;
  pv->owner = 0;
  // Until the last kick is out, the VMM does not call a polling waiter lost
  // (this vCPU thread may be descheduled between release and kick).
  __atomic_store_n(&me->unlocking, 1, __ATOMIC_SEQ_CST);
  // Release, then a full barrier before reading the registrations.
  __atomic_store_n(&pv->lock, 0, __ATOMIC_SEQ_CST);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  const u32 n = Boot()->num_vcpus < kReproMaxVcpus ? Boot()->num_vcpus : kReproMaxVcpus;
  u64 waiters = 0;
  u64 nested = 0;   // waiters inside a nested io interrupt taken while polling
  u64 polling = 0;  // waiters halted in the poll
  for (u32 c = 0; c < n; ++c) {
    if (c == self || !__atomic_load_n(&pv->cpu[c].waiting, __ATOMIC_ACQUIRE)) continue;
    waiters |= 1ull << c;
    u32 st = pv->cpu[c].state;
    if (st == kPvInIrq && pv->cpu[c].irq_from == kPvPolling) nested |= 1ull << c;
    if (st == kPvPolling) polling |= 1ull << c;
  }
  if (!waiters) {
    __atomic_add_fetch(&pv->unlocks, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&me->unlocking, 0, __ATOMIC_RELEASE);
    return;
  }
  // xen_spin_unlock_slow: kick the first waiter (buggy) or every waiter.
  const bool all = Repro()->pv_kick == kPvKickAll;
  u64 kicked = 0;
  u32 count = 0;
  for (u32 c = 0; c < n; ++c) {
    if (!(waiters & (1ull << c))) continue;
    __atomic_store_n(&pv->cpu[c].kick_pending, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&pv->cpu[c].kicks_sent, 1, __ATOMIC_RELAXED);
    SendVector(c, kVectorPvKick);
    kicked |= 1ull << c;
    ++count;
    if (!all) break;
  }
  const u64 seq = __atomic_add_fetch(&pv->unlocks, 1, __ATOMIC_RELAXED);
  __atomic_store_n(&me->unlocking, 0, __ATOMIC_RELEASE);
  __atomic_add_fetch(&pv->slow_unlocks, 1, __ATOMIC_RELAXED);
  if (nested && (polling & ~nested)) __atomic_add_fetch(&pv->critical, 1, __ATOMIC_RELAXED);
  // For the VMM's report (the last writer wins; the deadlocking unlock is
  // the last slow unlock that saw both waiters).
  pv->last_unlocker = self;
  pv->last_kicked_count = count;
  pv->last_waiters = waiters;
  pv->last_kicked = kicked;
  pv->last_unlock_seq = seq;
  pv->last_unlock_tsc = Rdtsc();
}

// try_to_wake_up(task x): x is still on_cpu on the task vCPU (it is in
// schedule(), waiting for the lock); spin until it is off.
extern "C" __attribute__((noinline)) void pv_try_to_wake_up(u64 info) {
  (void)info;
  while (__atomic_load_n(&Pv()->on_cpu, __ATOMIC_ACQUIRE)) CpuRelax();
}

// The "endio" interrupt (ring 0, interrupts off): wakes task x.
extern "C" void pv_io_irq() {
  const u32 self = ThisCpu();
  PvCpu* me = &Pv()->cpu[self];
  u32 from = me->state;
  me->irq_from = from;
  me->irq_start_tsc = Rdtsc();
  me->irqs = me->irqs + 1;
  me->state = kPvInIrq;
  pv_try_to_wake_up(0);
  me->state = from;
  Eoi();
}

// The kick (xen's lock_kicker_irq): its only job is to end the halt.
extern "C" void pv_kick_irq() {
  PvCpu* me = &Pv()->cpu[ThisCpu()];
  me->kicks_taken = me->kicks_taken + 1;
  Eoi();
}

namespace kvmbed {
namespace guest {
namespace {

// Random cycles in [0, max).
u64 RandomBelow(u32 self, u64 max) { return max ? Random(self) % max : 0; }

__attribute__((noreturn)) void HolderLoop(u32 self) {
  const ReproParams* rp = Repro();
  PvLockShared* pv = Pv();
  const u64 hold = Cyc(rp->pv_hold_ns);
  const u64 think = Cyc(rp->pv_think_ns);
  for (;;) {
    HeartBeat(self);
    Cli();
    xen_spin_lock(self);
    u64 this_hold = hold / 2 + RandomBelow(self, hold - hold / 2);
    bool raise = Random(self) % 1000000 < rp->pv_irq_ppm;
    u64 irq_at = RandomBelow(self, this_hold);
    u64 t0 = Rdtsc();
    for (;;) {
      u64 dt = Rdtsc() - t0;
      if (raise && dt >= irq_at) {
        SendVector(rp->pv_irq_vcpu, kVectorPvIoIrq);
        __atomic_add_fetch(&pv->irqs_raised, 1, __ATOMIC_RELAXED);
        raise = false;
      }
      if (dt >= this_hold) break;
      CpuRelax();
    }
    xen_spin_unlock(self);
    StiR();
    DelayCycles(RandomBelow(self, think));
  }
}

__attribute__((noreturn)) void WaiterLoop(u32 self) {
  const ReproParams* rp = Repro();
  PvLockShared* pv = Pv();
  const bool task = self == rp->pv_task_vcpu;
  const u64 think = Cyc(rp->pv_think_ns);
  for (;;) {
    HeartBeat(self);
    // Task x is being scheduled away: on_cpu until the switch completes.
    if (task) __atomic_store_n(&pv->on_cpu, 1, __ATOMIC_RELEASE);
    Cli();
    xen_spin_lock(self);
    DelayCycles(Cyc(2000));  // a short critical section
    xen_spin_unlock(self);
    StiR();
    if (task) __atomic_store_n(&pv->on_cpu, 0, __ATOMIC_RELEASE);
    DelayCycles(RandomBelow(self, think));
  }
}

}  // namespace
}  // namespace guest
}  // namespace kvmbed

extern "C" __attribute__((noinline, noreturn)) void pv_user_main(u64 vcpu64) {
  const u32 self = static_cast<u32>(vcpu64);
  if (self == Repro()->pv_holder) HolderLoop(self);
  WaiterLoop(self);
}

namespace kvmbed {
namespace guest {

// kWorkloadPvSpinlock: every vCPU installs the vectors, waits for the
// others, then runs its role in ring 3 with interrupts on.
void PvSpinlockWorkload(u32 vcpu, const BootParams* bp) {
  (void)bp;
  // The gates first: SmpInitCpu marks the vCPU ready for IPIs.
  SetIdtGate(vcpu, kVectorPvKick, &irq_stub_226);
  SetIdtGate(vcpu, kVectorPvIoIrq, &irq_stub_227);
  SmpInitCpu(vcpu);
  WaitAllOnline();
  SmpStatusOf(vcpu)->where = kWhereWorkload;
  EnterRing3(vcpu, &pv_user_main, vcpu, /*interrupts_on=*/true);
}

}  // namespace guest
}  // namespace kvmbed
