// Guest SMP core: call_single_queue, csd locks, IPIs, csd_lock_wait reports.
// See guest/smp.h. The shapes follow Linux kernel/smp.c (llist queue, send
// the IPI only when the queue was empty, sync csds unlocked after the
// callback, async ones before it, cur_csd tracking, csdlock_debug re-send);
// the code is our own.
#include "guest/smp.h"

#include "guest/cpu.h"
#include "guest/x2apic.h"

using namespace kvmbed::abi;

extern "C" {
void smp_gp_stub();
void irq_stub_240();
void irq_stub_251();
void irq_stub_253();
}

namespace kvmbed {
namespace guest {

namespace {


u64 g_rand_state[kMaxVcpus];
u64 g_csd_seq[kMaxVcpus];
volatile u64 g_csd_bug_count;
CpuMask g_online;
OfflineIpiFn g_offline_ipi;

Csd* CsdOf(u32 sender, u32 target) {
  return reinterpret_cast<Csd*>(CsdGpa(Boot()->num_vcpus, sender, target));
}

void SendIpi(u32 cpu, u32 vector) {
  u64 icr = (static_cast<u64>(VcpuStatusOf(cpu)->apic_id) << 32) | vector;
  WrmsrSmp(kX2apicIcr, icr);
  Count(ThisCpu(), kCntIpisSent);
}

// llist_add: returns true when the list was empty before (send the IPI).
bool LlistAdd(volatile u64* head, Csd* node) {
  u64 first = __atomic_load_n(head, __ATOMIC_RELAXED);
  do {
    node->next = first;
  } while (!__atomic_compare_exchange_n(head, &first, reinterpret_cast<u64>(node), true,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED));
  return first == 0;
}

// csd_unlock: a release store of 0, as Linux's smp_store_release(): only
// the lock holder writes the flags while the lock bit is set. (Also no
// locked instruction: on kvm_pvm those are expensive to emulate in ring 0.)
void CsdUnlock(Csd* csd) { __atomic_store_n(&csd->flags, 0, __ATOMIC_RELEASE); }

void WriteArgsAndSend(Message* m, const Csd* csd, u32 target, u64 waited_ns, u64 bug_id,
                      bool continued, u64 target_cur, u64 resends) {
  m->args[kCsdArgContinued] = continued ? 1 : 0;
  m->args[kCsdArgBugId] = bug_id;
  m->args[kCsdArgWaiter] = ThisCpu();
  m->args[kCsdArgTarget] = target;
  m->args[kCsdArgFunc] = csd->func;
  m->args[kCsdArgInfo] = csd->info;
  m->args[kCsdArgWaitNs] = waited_ns;
  m->args[kCsdArgCsd] = reinterpret_cast<u64>(csd);
  m->args[kCsdArgSeq] = csd->seq;
  m->args[kCsdArgTargetCurCsd] = target_cur;
  m->args[kCsdArgResends] = resends;
  SendReport(m);
}

}  // namespace

u64 Random(u32 vcpu) {
  u64 x = g_rand_state[vcpu];
  if (x == 0) x = (Params()->seed ^ 0x9e3779b97f4a7c15ull) * (vcpu + 1) | 1;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  g_rand_state[vcpu] = x;
  return x * 0x2545f4914f6cdd1dull;
}

u64 NsToCycles(u64 ns) { return ns * Boot()->tsc_khz / 1000000; }
u64 CyclesToNs(u64 cycles) {
  u64 khz = Boot()->tsc_khz ? Boot()->tsc_khz : 1;
  return cycles / khz * 1000000 + cycles % khz * 1000000 / khz;
}
void DelayUs(u64 us) {
  u64 end = Rdtsc() + NsToCycles(us * 1000);
  while (Rdtsc() < end) CpuRelax();
}

// ---- messages ----
Message* BeginReport(u32 vcpu, ReportCode code) {
  Message* m = reinterpret_cast<Message*>(SmpStatusOf(vcpu)->where == kWhereHandler
                                              ? SmpIrqMessageGpa(vcpu)
                                              : PerCpuArea(vcpu) + kPerCpuMessageOffset);
  m->type = kMsgReport;
  m->vcpu = vcpu;
  m->code = code;
  m->text_len = 0;
  for (u32 i = 0; i < kMessageArgs; ++i) m->args[i] = 0;
  return m;
}
void ReportText(Message* m, const char* s) {
  while (*s && m->text_len < kMessageText) m->text[m->text_len++] = *s++;
}
void SendReport(Message* m) {
  u32 gpa = static_cast<u32>(reinterpret_cast<u64>(m));
  asm volatile("outl %0, %1" : : "a"(gpa), "Nd"(kPortMessage) : "memory");
}

// ---- csd_lock_wait with the csdlock_debug reports ----
namespace {

// Kernel names for the symbols the VMM shows in RIPs and reports.
// Returns the TSC at which it saw the csd unlocked.
u64 CsdLockWait(Csd* csd) asm("csd_lock_wait");
void FlushQueue(u32 self) asm("flush_smp_call_function_queue");

__attribute__((noinline)) u64 CsdLockWait(Csd* csd) {
  if (!(__atomic_load_n(&csd->flags, __ATOMIC_ACQUIRE) & kCsdLock)) return Rdtsc();
  const u32 self = ThisCpu();
  SmpStatus* me = SmpStatusOf(self);
  const u32 saved_where = me->where;
  const u64 start = Rdtsc();
  me->wait_csd = reinterpret_cast<u64>(csd);
  me->wait_start_tsc = start;
  me->where = kWhereCsdWait;
  const u64 threshold = NsToCycles(Params()->csd_timeout_ns);
  u64 next_report = start + threshold;
  u64 bug_id = 0;
  u64 resends = 0;
  u32 target = csd->dst;
  u32 spins = 0;
  while (__atomic_load_n(&csd->flags, __ATOMIC_ACQUIRE) & kCsdLock) {
    CpuRelax();
    // Read the clock only now and then: it keeps the wake-up check tight.
    if (++spins % 64 != 0) continue;
    u64 now = Rdtsc();
    if (now < next_report) continue;
    bool first = bug_id == 0;
    if (first) {
      bug_id = __atomic_add_fetch(&g_csd_bug_count, 1, __ATOMIC_RELAXED);
      Count(self, kCntCsdStalls);
    }
    u64 target_cur = __atomic_load_n(&SmpStatusOf(target)->cur_csd, __ATOMIC_RELAXED);
    WriteArgsAndSend(BeginReport(self, kReportCsdStall), csd, target, CyclesToNs(now - start),
                     bug_id, !first, target_cur, resends);
    // csdlock_debug: the target is handling nothing, so kick it again.
    if (Params()->csd_resend && target_cur == 0 &&
        (__atomic_load_n(&csd->flags, __ATOMIC_ACQUIRE) & kCsdLock)) {
      SendIpi(target, kVectorCallFunctionSingle);
      Count(self, kCntCsdResends);
      ++resends;
    }
    next_report = Rdtsc() + threshold;
  }
  const u64 end = Rdtsc();
  // The exit path is on every waiter's round trip (and ring 0 is emulated
  // on kvm_pvm): cycles only here, ns only for a report.
  me->wait_csd = 0;
  me->where = saved_where;
  const u64 waited = end - start;
  if (waited > me->count[kCntMaxCsdWaitCycles]) me->count[kCntMaxCsdWaitCycles] = waited;
  if (bug_id) {
    WriteArgsAndSend(BeginReport(self, kReportCsdUnstuck), csd, target, CyclesToNs(waited), bug_id,
                     true, SmpStatusOf(target)->cur_csd, resends);
  }
  return end;
}

// Bucket of a latency (guest/abi.h kLatencyBuckets: the host plane's rule).
inline u32 LatencyBucket(u64 ns) {
  if (ns <= 1) return 0;
  const u32 b = 64 - static_cast<u32>(__builtin_clzll(ns - 1));
  return b < kLatencyBuckets ? b : kLatencyBuckets - 1;
}

// The per-period maximum of epoch `epoch` (guest/abi.h CsdWaitLatency).
inline void WindowMax(CsdWaitLatency* l, u64 epoch, u64 ns) {
  const u32 slot = static_cast<u32>(epoch & 1);
  if (l->window_epoch[slot] != epoch) {
    l->window_max_ns[slot] = ns;  // before the epoch: the VMM reads epoch, then max
    l->window_epoch[slot] = epoch;
  } else if (ns > l->window_max_ns[slot]) {
    l->window_max_ns[slot] = ns;
  }
}

// One guest-plane latency sample (guest/abi.h CsdWaitLatency for what it
// measures and the lock-free protocol). Thread context only: IPI handlers
// never call with wait=1 (as in Linux), so the owner never nests here.
void RecordCsdWait(u32 self, u64 cycles) asm("csd_wait_record");
__attribute__((noinline)) void RecordCsdWait(u32 self, u64 cycles) {
  CsdWaitLatency* l = &SmpStatusOf(self)->latency;
  u64 ns = CyclesToNs(cycles);
  if (ns == 0) ns = 1;  // as the host plane: at least 1 ns
  const u32 b = LatencyBucket(ns);
  // Seqcount: volatile stores stay in program order in the compiler and on
  // x86 (TSO), so the VMM sees seq odd before any of the updates.
  l->seq = l->seq + 1;
  l->buckets[b] = l->buckets[b] + 1;
  l->count = l->count + 1;
  l->sum_ns = l->sum_ns + ns;
  if (ns > l->max_ns) l->max_ns = ns;
  l->seq = l->seq + 1;
  const u64* epoch = &Params()->window_epoch;
  const u64 e = __atomic_load_n(epoch, __ATOMIC_ACQUIRE);
  WindowMax(l, e, ns);
  // Store-buffering with the VMM's bump: without the fence our slot update
  // could sit in the store buffer while we read the old epoch, and the VMM
  // could read the old slot after its bump: the sample lost to both periods.
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  const u64 now = __atomic_load_n(epoch, __ATOMIC_ACQUIRE);
  if (now != e) WindowMax(l, now, ns);
}

// Takes the sender's csd for `target`: waits for its previous use to end.
inline Csd* CsdLock(u32 self, u32 target) {
  Csd* csd = CsdOf(self, target);
  if (__atomic_load_n(&csd->flags, __ATOMIC_ACQUIRE) & kCsdLock) CsdLockWait(csd);
  // csd_lock's smp_wmb(): x86 keeps stores in order, and the llist cmpxchg
  // that publishes the csd is a full barrier.
  csd->flags = kCsdLock;
  asm volatile("" ::: "memory");
  return csd;
}

// Queues a locked csd on `target`; IPIs it when its queue was empty.
inline void Queue(Csd* csd, u32 self, u32 target, SmpFunc func, u64 info, bool wait) {
  csd->src = self;
  csd->dst = target;
  csd->func = reinterpret_cast<u64>(func);
  csd->info = info;
  csd->seq = ++g_csd_seq[self];
  csd->queued_tsc = Rdtsc();
  if (wait) csd->flags = kCsdLock | kCsdSync;
  SmpStatus* me = SmpStatusOf(self);
  me->sending_to = target + 1;
  if (LlistAdd(&SmpStatusOf(target)->queue, csd)) {
    SendIpi(target, kVectorCallFunctionSingle);
  }
  me->sending_to = 0;
}

// flush_smp_call_function_queue: runs every queued csd in arrival order.
__attribute__((noinline)) void FlushQueue(u32 self) {
  SmpStatus* me = SmpStatusOf(self);
  u64 head = __atomic_exchange_n(&me->queue, 0, __ATOMIC_ACQUIRE);
  // The llist is newest-first: reverse it before any csd is unlocked (an
  // unlocked csd may be reused, and its `next` rewritten, at once).
  u64 prev = 0;
  if (head && reinterpret_cast<Csd*>(head)->next == 0) {
    prev = head;  // the common case: one csd
    head = 0;
  }
  while (head) {
    Csd* c = reinterpret_cast<Csd*>(head);
    u64 next = c->next;
    c->next = prev;
    prev = head;
    head = next;
  }
  for (u64 p = prev; p;) {
    Csd* c = reinterpret_cast<Csd*>(p);
    u64 next = c->next;
    SmpFunc func = reinterpret_cast<SmpFunc>(c->func);
    u64 info = c->info;
    me->cur_func = c->func;
    me->cur_info = info;
    __atomic_store_n(&me->cur_csd, p, __ATOMIC_RELEASE);
    if (c->flags & kCsdSync) {
      func(info);
      CsdUnlock(c);
    } else {
      CsdUnlock(c);
      func(info);
    }
    Count(self, kCntCsdHandled);
    __atomic_store_n(&me->cur_csd, 0, __ATOMIC_RELEASE);
    p = next;
  }
}

}  // namespace

// Adds the call-function and reschedule gates to this vCPU's IDT (laid out
// by guest/main.cc: 256 16-byte interrupt gates at kPerCpuIdtOffset).
void InstallSmpVectors(u32 vcpu) {
  SetIdtGate(vcpu, kVectorCallFunctionSingle, &irq_stub_251);
  SetIdtGate(vcpu, kVectorReschedule, &irq_stub_253);
  SetIdtGate(vcpu, kVectorOnCpu, &irq_stub_240);
  SetIdtGate(vcpu, 13, &smp_gp_stub);  // #GP: emulates the ring-3 op loop's privileged steps
}

// SmpStatus starts zeroed (fresh guest RAM) and is never cleared here: a
// sender may already have queued a csd on this vCPU. Zeroing it at start-up
// once lost exactly such a csd (the seed-004 shape, a CPU coming online).
void SmpInitCpu(u32 vcpu) {
  SmpStatus* s = SmpStatusOf(vcpu);
  InstallSmpVectors(vcpu);
  if (vcpu == 0) {
    g_online.Clear();
    for (u32 i = 0; i < Boot()->num_vcpus; ++i) g_online.Set(i);
  }
  __atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
}

void WaitAllOnline() {
  const u32 n = Boot()->num_vcpus;
  for (u32 i = 0; i < n; ++i) {
    while (!__atomic_load_n(&SmpStatusOf(i)->ready, __ATOMIC_ACQUIRE)) CpuRelax();
  }
  // vCPU 0 filled the online mask before it set its ready flag.
}

const CpuMask& OnlineMask() { return g_online; }

bool CpuOnline(u32 cpu) {
  return __atomic_load_n(&g_online.bits[cpu / 64], __ATOMIC_ACQUIRE) & (1ull << (cpu % 64));
}
void SetCpuOnline(u32 cpu, bool online) {
  if (online) {
    __atomic_fetch_or(&g_online.bits[cpu / 64], 1ull << (cpu % 64), __ATOMIC_SEQ_CST);
  } else {
    __atomic_fetch_and(&g_online.bits[cpu / 64], ~(1ull << (cpu % 64)), __ATOMIC_SEQ_CST);
  }
}
void FlushSmpCallFunctionQueue(u32 self) { FlushQueue(self); }

Csd* CsdLockFor(u32 target) { return CsdLock(ThisCpu(), target); }
bool CsdEnqueueAsync(Csd* csd, u32 target, SmpFunc func, u64 info) {
  const u32 self = ThisCpu();
  csd->src = self;
  csd->dst = target;
  csd->func = reinterpret_cast<u64>(func);
  csd->info = info;
  csd->seq = ++g_csd_seq[self];
  csd->queued_tsc = Rdtsc();
  return LlistAdd(&SmpStatusOf(target)->queue, csd);
}
void SendCallFunctionIpi(u32 target) { SendIpi(target, kVectorCallFunctionSingle); }
void SetOfflineIpiHandler(OfflineIpiFn fn) { g_offline_ipi = fn; }

namespace {

// smp_call_function_single; `record`: a wait=1 call to another vCPU is one
// latency sample (the IPI bench keeps its own samples and passes false, so
// its round trips carry no bookkeeping).
__attribute__((always_inline)) inline void CallSingle(u32 cpu, SmpFunc func, u64 info, bool wait,
                                                      bool record) {
  const u32 self = ThisCpu();
  if (cpu == self) {
    // Linux runs a call to this CPU locally with interrupts off.
    u64 flags = IrqSave();
    func(info);
    IrqRestore(flags);
    return;
  }
  record = record && wait;
  const u64 t0 = record ? Rdtsc() : 0;  // the sample starts before the csd lock
  Csd* csd = CsdLock(self, cpu);
  Queue(csd, self, cpu, func, info, wait);
  if (!wait) return;
  const u64 end = CsdLockWait(csd);
  if (record) RecordCsdWait(self, end - t0);
}

}  // namespace

void SmpCallFunctionSingle(u32 cpu, SmpFunc func, u64 info, bool wait) {
  CallSingle(cpu, func, info, wait, /*record=*/true);
}

void SmpCallFunctionSingleUnrecorded(u32 cpu, SmpFunc func, u64 info) {
  CallSingle(cpu, func, info, /*wait=*/true, /*record=*/false);
}

void SmpCallFunctionMany(const CpuMask& mask, SmpFunc func, u64 info, bool wait) {
  const u32 self = ThisCpu();
  const u32 n = Boot()->num_vcpus;
  const u64 t0 = wait ? Rdtsc() : 0;  // the sample starts before the csd locks
  bool queued = false;
  for (u32 cpu = 0; cpu < n; ++cpu) {
    if (cpu == self || !mask.Test(cpu)) continue;
    Csd* csd = CsdLock(self, cpu);
    Queue(csd, self, cpu, func, info, wait);
    queued = true;
  }
  if (!wait || !queued) return;
  // Every csd is unlocked once the last wait ends: that wait's end is the
  // instant the caller has seen them all done.
  u64 end = t0;
  for (u32 cpu = 0; cpu < n; ++cpu) {
    if (cpu == self || !mask.Test(cpu)) continue;
    end = CsdLockWait(CsdOf(self, cpu));
  }
  RecordCsdWait(self, end - t0);
}

void SmpCallFunction(SmpFunc func, u64 info, bool wait) {
  SmpCallFunctionMany(g_online, func, info, wait);
}

void SendReschedule(u32 cpu) { SendIpi(cpu, kVectorReschedule); }

// kvm-unit-tests' on_cpu shape, for the bench: one sender at a time.
struct OnCpuMailbox {
  SmpFunc func;
  u64 info;
  volatile u32 done;
};
OnCpuMailbox g_on_cpu;

void OnCpu(u32 cpu, SmpFunc func, u64 info) {
  g_on_cpu.func = func;
  g_on_cpu.info = info;
  g_on_cpu.done = 0;
  WrmsrSmp(kX2apicIcr, (static_cast<u64>(VcpuStatusOf(cpu)->apic_id) << 32) | kVectorOnCpu);
  while (!g_on_cpu.done) asm volatile("" ::: "memory");
}

}  // namespace guest
}  // namespace kvmbed

using namespace kvmbed::guest;

// ---- interrupt handlers (called from guest/smp_entry.S) ----
extern "C" void guest_call_function_irq() {
  // Ring-0 guest code is emulated instruction by instruction on kvm_pvm
  // hosts: everything before the unlock is on the sender's round trip, so
  // the bookkeeping comes after the flush.
  const u32 self = ThisCpu();
  SmpStatus* me = SmpStatusOf(self);
  const SmpParams* p = Params();
  u32 saved = me->where;
  me->where = kWhereHandler;
  bool drop = p->drop_ppm != 0 && (p->fault_vcpu == kAllVcpus || p->fault_vcpu == self) &&
              Random(self) % 1000000 < p->drop_ppm;
  if (drop) {
    // Fault injection: behave as if the interrupt never came.
    Count(self, kCntIpisDropped);
  } else if (g_offline_ipi != nullptr && !CpuOnline(self)) {
    g_offline_ipi(self);  // guest/hotplug.cc: "IPI on offline CPU"
  } else {
    FlushQueue(self);
  }
  me->where = saved;
  Count(self, kCntIpiIrqs);
  me->last_ipi_tsc = Rdtsc();
  // EOI after the flush, as kvm-unit-tests' on_cpu handler does (signal
  // completion first): the EOI exit stays off the sender's round trip. An
  // IPI arriving meanwhile stays latched in IRR and runs the queue again.
  WrmsrSmp(kX2apicEoi, 0);
}

extern "C" void guest_on_cpu_irq() {
  g_on_cpu.func(g_on_cpu.info);
  g_on_cpu.done = 1;
  WrmsrSmp(kX2apicEoi, 0);
}

// The frame smp_gp_stub builds: 15 GPRs, then what the CPU pushed.
struct GpFrame {
  u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  u64 error_code, rip, cs, rflags, rsp, ss;
};

// #GP from ring 3 (SmpParams::user_mode): runs the privileged instruction at
// the faulting RIP on the op loop's behalf and steps over it. Returns 0 for
// anything else (the ordinary fatal exception report follows).
extern "C" u32 smp_emulate_gp(GpFrame* f) {
  const u8* ip = reinterpret_cast<const u8*>(f->rip);
  constexpr u64 kIf = 1u << 9;
  if (ip[0] == 0x0f && ip[1] == 0x30) {  // wrmsr
    WrmsrSmp(static_cast<u32>(f->rcx), (f->rdx << 32) | static_cast<u32>(f->rax));
    f->rip += 2;
  } else if (ip[0] == 0x0f && ip[1] == 0x32) {  // rdmsr
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(static_cast<u32>(f->rcx)));
    f->rax = lo;
    f->rdx = hi;
    f->rip += 2;
  } else if (ip[0] == 0xef) {  // out %eax, (%dx)
    asm volatile("outl %0, %w1" : : "a"(static_cast<u32>(f->rax)), "Nd"(static_cast<u16>(f->rdx))
                 : "memory");
    f->rip += 1;
  } else if (ip[0] == 0xfa) {  // cli: the ring-3 code's IF, restored by iretq
    f->rflags &= ~kIf;
    f->rip += 1;
  } else if (ip[0] == 0xfb) {  // sti
    f->rflags |= kIf;
    f->rip += 1;
  } else if (ip[0] == 0xf4) {  // hlt: wait for an interrupt here, in ring 0
    asm volatile("sti; hlt; cli" ::: "memory");
    f->rip += 1;
  } else {
    return 0;
  }
  return 1;
}

extern "C" void guest_reschedule_irq() {
  const u32 self = ThisCpu();
  Count(self, kCntReschedIrqs);
  WrmsrSmp(kX2apicEoi, 0);
}
