#include "hostipi/host_ipi.h"

#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/stall_verdict.h"

namespace kvmbed {
namespace hostipi {
namespace {

constexpr uint64_t kCsdLock = 1;

std::string CpuList(uint64_t mask) {
  std::vector<std::string> parts;
  for (int i = 0; i < kMaxCpus; ++i) {
    if (mask & (uint64_t{1} << i)) parts.push_back(absl::StrCat(i));
  }
  return absl::StrJoin(parts, ",");
}

}  // namespace

const char* CsdFuncName(int func) {
  switch (func) {
    case kDoNothing:
      return "do_nothing";
    case kFlushTlb:
      return "kvm_flush_tlb_func";
  }
  return "?";
}

absl::Status HostIpiPlane::Validate(const Options& o) {
  if (o.num_cpus < 1 || o.num_cpus > kMaxCpus) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hostipi: num_cpus=", o.num_cpus, " is out of range; use 1..", kMaxCpus,
        " (the call_single_queue is a bitmask of senders)"));
  }
  if (o.stall_threshold_ns <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("hostipi: stall_threshold_ns=", o.stall_threshold_ns,
                     " must be > 0 (ns natively, virtual ticks emulated)"));
  }
  if (o.resched_handler_relax < 0 || o.exit_latency_relax < 0 ||
      o.trace_events_per_cpu < 1) {
    return absl::InvalidArgumentError(
        "hostipi: resched_handler_relax and exit_latency_relax must be >= 0 "
        "and trace_events_per_cpu >= 1");
  }
  return absl::OkStatus();
}

HostIpiPlane::HostIpiPlane(Options options) : options_(std::move(options)) {
  steady0_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
                 .count();
  tsc0_ = static_cast<int64_t>(__rdtsc());
  const int n = std::max(1, std::min(options_.num_cpus, kMaxCpus));
  options_.num_cpus = n;
  auto name = [this](std::string s) {
    names_.push_back(std::move(s));
    return names_.back().c_str();
  };
  for (int i = 0; i < n; ++i) {
    auto cpu = std::make_unique<Cpu>();
    cpu->host_ipi.name = name(absl::StrCat("host_ipi[", i, "]"));
    cpu->message.name = name(absl::StrCat("ipi_message[", i, "]"));
    for (int m = 0; m < kNumMessages; ++m) cpu->handled[m].store(0);
    word_ids_[&cpu->host_ipi] = {i, 4};
    word_ids_[&cpu->message] = {i, 0};
    cpu->queue.name = name(absl::StrCat("call_single_queue[", i, "]"));
    cpu->doorbell.name = name(absl::StrCat("doorbell[", i, "]"));
    for (int t = 0; t < n; ++t) {
      auto csd = std::make_unique<Csd>();
      csd->flags.name = name(absl::StrCat("csd[", i, "->", t, "].flags"));
      csd->func.name = name(absl::StrCat("csd[", i, "->", t, "].func"));
      csd->info.name = name(absl::StrCat("csd[", i, "->", t, "].info"));
      cpu->csd_to.push_back(std::move(csd));
    }
    cpus_.push_back(std::move(cpu));
  }
}

void HostIpiPlane::Attach(CpuMemory& mem) { cpus_[mem.cpu()]->mem = &mem; }

void HostIpiPlane::Trace(CpuMemory& mem, TraceKind kind, uint64_t a, uint64_t b,
                         bool flag) {
  cpus_[mem.cpu()]->trace.Add(Stamp(mem), kind, a, b, flag);
}

int64_t HostIpiPlane::Stamp(CpuMemory& mem) const {
  // Natively the TSC: a few ns, and no fence (a clock read between a store
  // and a later load must not give the store buffer time to drain).
  return Emulated() ? mem.NowNs() : static_cast<int64_t>(__rdtsc());
}

int64_t HostIpiPlane::StampToNs(int64_t delta) const {
  if (Emulated()) return delta;
  double ns_per_tick;
  {
    absl::MutexLock lock(&clock_mu_);
    if (ns_per_tick_ == 0) {
      // Calibrate against the steady clock over >= 2 ms since construction.
      int64_t ns, ticks;
      do {
        ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
                 .count() -
             steady0_;
        ticks = static_cast<int64_t>(__rdtsc()) - tsc0_;
      } while (ns < 2'000'000);
      ns_per_tick_ = ticks > 0 ? static_cast<double>(ns) / ticks : 1.0;
    }
    ns_per_tick = ns_per_tick_;
  }
  return static_cast<int64_t>(static_cast<double>(delta) * ns_per_tick);
}

std::vector<std::string> HostIpiPlane::AllBufferedStores() const {
  // Emulated mode: every modelled CPU runs on this one OS thread, so
  // reading another CPU's (const) buffer here cannot race; thread store
  // buffers lock their own buffer in BufferedStores().
  std::vector<std::string> out;
  for (size_t i = 0; i < cpus_.size(); ++i) {
    const CpuMemory* m = cpus_[i]->mem;
    if (m == nullptr) continue;
    for (const std::string& s : m->BufferedStores()) {
      out.push_back(absl::StrCat("CPU#", i, " ", NameMessageStore(s)));
    }
  }
  return out;
}

// ---- sender side ----

void HostIpiPlane::MessagePass(CpuMemory& mem, int target, IpiMessage message) {
  Cpu& me = *cpus_[mem.cpu()];
  Cpu& t = *cpus_[target];
  const KernelModel& km = options_.model;
  me.sending_to.store(target, std::memory_order_relaxed);
  // smp_muxed_ipi_set_message(): a plain byte store into ipi_message.
  bool buffered = SetMessage(mem, t.message, message, km) && Emulated();
  Trace(mem, TraceKind::kSetMessage, target,
        static_cast<uint64_t>(message) | (buffered ? 0x100 : 0),
        km.message_pass_mb);
  if (buffered) me.pending_message[message] |= uint64_t{1} << target;
  // doorbell_global_ipi() -> kvmppc_set_host_ipi(target).
  if (km.mb_before_set) mem.FullBarrier();
  mem.Store(t.host_ipi, 1);
  buffered =
      Emulated() && t.host_ipi.value.load(std::memory_order_relaxed) != 1;
  Trace(mem, TraceKind::kSetHostIpi, target, buffered, km.mb_before_set);
  if (buffered) me.pending_host_ipi |= uint64_t{1} << target;
  // ppc_msgsnd_sync() then msgsnd: the doorbell itself is not a store.
  mem.FullBarrier();
  const int64_t seq = me.doorbells_sent.load(std::memory_order_relaxed) + 1;
  mem.Signal(t.doorbell, DoorbellValue(mem.cpu(), static_cast<uint64_t>(seq)));
  Trace(mem, TraceKind::kMsgsnd, target);
  me.doorbells_sent.store(seq, std::memory_order_relaxed);
  me.sending_to.store(-1, std::memory_order_relaxed);
  if (options_.kick) options_.kick(target);
}

bool HostIpiPlane::CallFunctionMany(CpuMemory& mem, uint64_t target_mask,
                                    CsdFunc func, uint64_t info, bool wait) {
  const int self = mem.cpu();
  Cpu& me = *cpus_[self];
  const int n = options_.num_cpus;
  const uint64_t valid = n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
  target_mask &= valid & ~(uint64_t{1} << self);
  if (target_mask == 0) return true;
  Trace(mem, TraceKind::kCallMany, target_mask, func);
  uint64_t ipi_mask = 0;
  for (int t = 0; t < n; ++t) {
    if (!(target_mask & (uint64_t{1} << t))) continue;
    Csd& csd = *me.csd_to[t];
    // csd_lock(): wait out a previous user of this csd, then take it.
    while (mem.Load(csd.flags) & kCsdLock) {
      if (mem.StopRequested()) return false;
      InterruptPoint(mem);
      mem.Relax();
    }
    mem.Store(csd.flags, kCsdLock);
    mem.LightBarrier();  // smp_wmb() in csd_lock()
    mem.Store(csd.func, static_cast<uint64_t>(func));
    mem.Store(csd.info, info);
    // llist_add(): a fully ordered RMW; IPI only if the queue was empty.
    if (mem.FetchOr(cpus_[t]->queue, uint64_t{1} << self, true) == 0) {
      ipi_mask |= uint64_t{1} << t;
    }
  }
  // arch_send_call_function_ipi_mask().
  for (int t = 0; t < n; ++t) {
    if (ipi_mask & (uint64_t{1} << t)) MessagePass(mem, t, kCallFunction);
  }
  if (!wait) return true;
  for (int t = 0; t < n; ++t) {
    if (!(target_mask & (uint64_t{1} << t))) continue;
    if (!CsdLockWait(mem, t, func, info)) return false;
  }
  return true;
}

bool HostIpiPlane::CsdLockWait(CpuMemory& mem, int target, CsdFunc func,
                               uint64_t info) {
  Cpu& me = *cpus_[mem.cpu()];
  Csd& csd = *me.csd_to[target];
  Trace(mem, TraceKind::kCsdWait, target, func);
  const int64_t threshold = std::max<int64_t>(options_.stall_threshold_ns, 1);
  const int64_t start = mem.NowNs();
  int64_t next_report = start + threshold;
  int number = 0;
  bool lost = false;
  uint64_t polls = 0;
  // An episode counts as lost from its first LOST report on (live counters
  // must show a hang while it lasts), else as slow when it ends.
  auto end_episode = [&](int64_t waited) {
    if (number == 0) return;
    if (!lost) stalls_slow_.fetch_add(1, std::memory_order_relaxed);
    StallReport r;
    r.kind = StallReport::Kind::kUnstuck;
    r.number = number;
    r.waiter_cpu = mem.cpu();
    r.target_cpu = target;
    r.waited_ns = waited;
    r.clock_unit = Emulated() ? "ticks" : "ns";
    r.func = CsdFuncName(func);
    r.info = info;
    r.verdict = lost ? StallVerdict::kLost : StallVerdict::kSlow;
    if (options_.sink) options_.sink(r);
  };
  while (mem.Load(csd.flags) & kCsdLock) {
    InterruptPoint(mem);
    mem.Relax();
    if (mem.StopRequested()) {
      if (number != 0 && !lost) stalls_slow_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (!Emulated() && (++polls & 63) != 0) continue;  // clock reads cost
    const int64_t now = mem.NowNs();
    if (now < next_report) continue;
    // This thread may just have been descheduled: look again first.
    if (!(mem.Load(csd.flags) & kCsdLock)) break;
    const bool first = number == 0;
    if (first) number = next_report_.fetch_add(1);
    StallReport r =
        BuildReport(mem, target, func, info, now - start, number, first);
    if (r.verdict == StallVerdict::kLost && !lost) {
      lost = true;
      stalls_lost_.fetch_add(1, std::memory_order_relaxed);
    }
    Trace(mem, TraceKind::kStall, target, number);
    StallAction action =
        options_.sink ? options_.sink(r) : StallAction::kKeepWaiting;
    next_report = mem.NowNs() + threshold;
    if (action == StallAction::kAbort) {
      if (!lost) stalls_slow_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (action == StallAction::kResend) {
      Trace(mem, TraceKind::kResend, target);
      MessagePass(mem, target, kCallFunction);
    }
  }
  mem.LightBarrier();  // smp_cond_load_acquire()
  const int64_t waited = mem.NowNs() - start;
  if (waited > me.max_wait.load(std::memory_order_relaxed)) {
    me.max_wait.store(waited, std::memory_order_relaxed);
  }
  me.calls_completed.store(
      me.calls_completed.load(std::memory_order_relaxed) + 1,
      std::memory_order_relaxed);
  Trace(mem, TraceKind::kCsdWaitDone, target);
  end_episode(waited);
  return true;
}

// ---- receiver side ----

void HostIpiPlane::EnterGuest(CpuMemory& mem) {
  cpus_[mem.cpu()]->in_guest.store(true, std::memory_order_relaxed);
  Trace(mem, TraceKind::kEnterGuest);
}

bool HostIpiPlane::TakeDoorbell(CpuMemory& mem) {
  Cpu& c = *cpus_[mem.cpu()];
  const uint64_t v = mem.Load(c.doorbell);
  if (v == c.doorbell_taken.load(std::memory_order_relaxed)) return false;
  c.doorbell_taken.store(v, std::memory_order_relaxed);
  // ppc_msgsync() (POWER9: msgsync; lwsync): loads after taking the
  // doorbell see what the sender stored before its msgsnd.
  mem.LightBarrier();
  return true;
}

bool HostIpiPlane::ExitPath(CpuMemory& mem) {
  Cpu& c = *cpus_[mem.cpu()];
  c.in_guest.store(false, std::memory_order_relaxed);
  if (!TakeDoorbell(mem)) return false;
  for (int64_t i = 0; i < options_.exit_latency_relax; ++i) mem.Relax();
  // The KVM exit path looks at kvm_hstate.host_ipi to decide whether the
  // doorbell was meant for the host.
  const uint64_t host_ipi = mem.Load(c.host_ipi);
  // Natively, keep the path to the clear short: anything slow here (e.g.
  // reading the message words for the report) shifts the race it exists
  // to show. The messages are looked at only when the doorbell is ignored.
  uint64_t seen = 0;  // observer's view, for the stall report only
  if (host_ipi == 0) {
    seen = MessageBits(c.message.value.load(std::memory_order_relaxed));
  }
  c.last_doorbell.t.store(Stamp(mem), std::memory_order_relaxed);
  c.last_doorbell.host_ipi.store(host_ipi, std::memory_order_relaxed);
  c.last_doorbell.messages.store(seen, std::memory_order_relaxed);
  if (HasStoreBuffers()) {
    std::vector<std::string> buffered = AllBufferedStores();
    absl::MutexLock lock(&c.mu);
    c.buffered_at_doorbell = std::move(buffered);
  }
  c.taken_guest.store(c.taken_guest.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
  Trace(mem, TraceKind::kDoorbellGuest, host_ipi, seen, host_ipi != 0);
  if (host_ipi == 0) {
    c.ignored.store(c.ignored.load(std::memory_order_relaxed) + 1,
                    std::memory_order_relaxed);
    Trace(mem, TraceKind::kIgnored);
    if (seen & (1u << kCallFunction)) {
      // Possibly a lost IPI: keep the history that led here, which later
      // activity would push out of the rings before a stall is reported.
      std::vector<int> all_cpus;
      for (int i = 0; i < options_.num_cpus; ++i) all_cpus.push_back(i);
      std::vector<TraceEvent> events = CollectEvents(
          all_cpus, mem.cpu(), options_.trace_events_per_cpu, INT64_MIN);
      absl::MutexLock lock(&c.mu);
      c.suspect_events = std::move(events);
      c.suspect_t = c.last_doorbell.t.load(std::memory_order_relaxed);
    }
    return true;
  }
  DoorbellException(mem);
  return true;
}

void HostIpiPlane::InterruptPoint(CpuMemory& mem) {
  if (!TakeDoorbell(mem)) return;
  Cpu& c = *cpus_[mem.cpu()];
  c.taken_host.store(c.taken_host.load(std::memory_order_relaxed) + 1,
                     std::memory_order_relaxed);
  Trace(mem, TraceKind::kDoorbellHost);
  DoorbellException(mem);
}

void HostIpiPlane::DoorbellException(CpuMemory& mem) {
  Cpu& c = *cpus_[mem.cpu()];
  const int64_t delay = c.handler_delay.load(std::memory_order_relaxed);
  if (delay > 0) {
    const int64_t until = mem.NowNs() + delay;
    while (mem.NowNs() < until && !mem.StopRequested()) mem.Relax();
  }
  // kvmppc_clear_host_ipi().
  mem.Store(c.host_ipi, 0);
  if (options_.model.mb_after_clear) mem.FullBarrier();
  // Nothing between the clear and the demux's first read: natively, even a
  // clock read there would give the store buffer time to drain. The clear
  // is traced by Demux() after that read.
  Demux(mem, /*trace_clear=*/true);
}

void HostIpiPlane::Demux(CpuMemory& mem, bool trace_clear) {
  Cpu& c = *cpus_[mem.cpu()];
  const DemuxRead demux = options_.model.demux;
  // doorbell_exception() calls smp_ipi_demux_relaxed(): no mb() first.
  hostipi::Demux(mem, c.message, options_.model, DemuxEntry::kRelaxed,
                 [&](const DemuxTake& take) {
    if (take.peeked_zero) {
      c.peek_zero.store(c.peek_zero.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
    }
    if (trace_clear && take.first) {
      const bool buffered =
          Emulated() && c.host_ipi.value.load(std::memory_order_relaxed) != 0;
      Trace(mem, TraceKind::kClearHostIpi, buffered, 0,
            options_.model.mb_after_clear);
      if (buffered) c.pending_host_ipi |= uint64_t{1} << mem.cpu();
    }
    c.last_handled.t.store(Stamp(mem), std::memory_order_relaxed);
    c.last_handled.messages.store(take.bits, std::memory_order_relaxed);

    if (HasStoreBuffers()) {
      std::vector<std::string> buffered = AllBufferedStores();
      absl::MutexLock lock(&c.mu);
      c.buffered_at_clear = std::move(buffered);
    }
    Trace(mem, TraceKind::kDemux, take.bits, static_cast<uint64_t>(demux),
          take.peeked_zero);
    for (int m = 0; m < kNumMessages; ++m) {
      if (!(take.bits & (1u << m))) continue;
      c.handled[m].store(c.handled[m].load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
      if (m == kCallFunction) FlushQueue(mem);
      if (m == kReschedule) {
        // scheduler_ipi(): only its cost is modelled.
        for (int64_t i = 0; i < options_.resched_handler_relax; ++i)
          mem.Relax();
      }
      // TICK_BROADCAST/NMI_IPI: nothing to run in the model.
    }
  });
}

void HostIpiPlane::FlushQueue(CpuMemory& mem) {
  const int self = mem.cpu();
  Cpu& c = *cpus_[self];
  // llist_del_all(): a fully ordered xchg.
  const uint64_t queued = mem.Exchange(c.queue, 0, true);
  for (int s = 0; s < options_.num_cpus; ++s) {
    if (!(queued & (uint64_t{1} << s))) continue;
    Csd& csd = *cpus_[s]->csd_to[self];
    c.cur_csd.store(s, std::memory_order_relaxed);
    const uint64_t func = mem.Load(csd.func);
    mem.Load(csd.info);
    Trace(mem, TraceKind::kRunCsd, s, func);
    // The functions have no effect in the model; then csd_unlock():
    // smp_store_release(&csd->flags, 0).
    mem.LightBarrier();
    mem.Store(csd.flags, 0);
    Trace(mem, TraceKind::kCsdUnlock, s);
    c.cur_csd.store(-1, std::memory_order_relaxed);
    c.csds_run.store(c.csds_run.load(std::memory_order_relaxed) + 1,
                     std::memory_order_relaxed);
  }
}

HostIpiPlane::GuestExit HostIpiPlane::RunGuest(CpuMemory& mem, int64_t slice) {
  Cpu& c = *cpus_[mem.cpu()];
  EnterGuest(mem);
  for (int64_t i = 0; i < slice; ++i) {
    if (mem.StopRequested()) {
      c.in_guest.store(false, std::memory_order_relaxed);
      return GuestExit::kStop;
    }
    mem.Relax();
    if (mem.Load(c.doorbell) !=
        c.doorbell_taken.load(std::memory_order_relaxed)) {
      ExitPath(mem);
      EnterGuest(mem);
    }
  }
  c.in_guest.store(false, std::memory_order_relaxed);
  Trace(mem, TraceKind::kGuestExit);
  return GuestExit::kOwnExit;
}

void HostIpiPlane::OnMemoryEvent(const MemoryTraceEvent& e) {
  if (e.op != MemoryOp::kDrain && e.op != MemoryOp::kCoherenceDrop) return;
  if (e.cpu < 0 || e.cpu >= options_.num_cpus) return;
  auto it = word_ids_.find(e.word);
  if (it == word_ids_.end()) return;
  const int owner = it->second.first;
  const uint64_t bit = uint64_t{1} << owner;
  const bool dropped = e.op == MemoryOp::kCoherenceDrop;
  Cpu& c = *cpus_[e.cpu];
  if (it->second.second == 4) {
    if (!(c.pending_host_ipi & bit)) return;
    c.pending_host_ipi &= ~bit;
    c.trace.Add(e.time, TraceKind::kStoreVisible, owner, 4, dropped);
    return;
  }
  for (int m = 0; m < kNumMessages; ++m) {
    if (!(c.pending_message[m] & bit)) continue;
    if (!dropped && !((e.value >> (8 * m)) & 0xff)) continue;
    c.pending_message[m] &= ~bit;
    c.trace.Add(e.time, TraceKind::kStoreVisible, owner, m, dropped);
  }
}

// ---- observers ----

bool HostIpiPlane::InGuest(int cpu) const {
  return cpus_[cpu]->in_guest.load(std::memory_order_relaxed);
}

int64_t HostIpiPlane::TotalDoorbells() const {
  int64_t total = 0;
  for (const auto& c : cpus_)
    total += c->doorbells_sent.load(std::memory_order_relaxed);
  return total;
}

PlaneStats HostIpiPlane::Stats() const {
  PlaneStats s;
  for (const auto& c : cpus_) {
    s.doorbells_sent += c->doorbells_sent.load(std::memory_order_relaxed);
    s.doorbells_taken_in_guest +=
        c->taken_guest.load(std::memory_order_relaxed);
    s.doorbells_ignored += c->ignored.load(std::memory_order_relaxed);
    s.doorbells_taken_in_host += c->taken_host.load(std::memory_order_relaxed);
    for (int m = 0; m < kNumMessages; ++m) {
      s.messages_handled[m] += c->handled[m].load(std::memory_order_relaxed);
    }
    s.csds_run += c->csds_run.load(std::memory_order_relaxed);
    s.peeks_saw_zero += c->peek_zero.load(std::memory_order_relaxed);
    s.calls_completed += c->calls_completed.load(std::memory_order_relaxed);
    s.max_wait_ns =
        std::max(s.max_wait_ns, c->max_wait.load(std::memory_order_relaxed));
  }
  s.stalls_lost = stalls_lost_.load();
  s.stalls_slow = stalls_slow_.load();
  return s;
}

void HostIpiPlane::SetHandlerDelayForTest(int cpu, int64_t delay) {
  cpus_[cpu]->handler_delay.store(delay);
}

// ---- stall reports ----

StallReport HostIpiPlane::BuildReport(CpuMemory& mem, int target, CsdFunc func,
                                      uint64_t info, int64_t waited, int number,
                                      bool first) {
  const int self = mem.cpu();
  const Cpu& d = *cpus_[target];
  StallReport r;
  r.kind = first ? StallReport::Kind::kDetected : StallReport::Kind::kContinued;
  r.number = number;
  r.waiter_cpu = self;
  r.target_cpu = target;
  r.waited_ns = waited;
  r.clock_unit = Emulated() ? "ticks" : "ns";
  r.func = CsdFuncName(func);
  r.info = info;

  // Observer snapshot of the target, taken twice: a racing change (native
  // mode) makes the evidence inconclusive, never LOST.
  struct Snap {
    bool in_guest;
    int cur_csd;
    uint64_t host_ipi;
    uint64_t messages;
    uint64_t queue;
    uint64_t latch;
    int64_t taken;
    int64_t last_t;
    int sender = -1;  // a CPU mid message pass to the target
    bool operator==(const Snap& o) const {
      return std::tie(in_guest, cur_csd, host_ipi, messages, queue, latch,
                      taken, last_t, sender) ==
             std::tie(o.in_guest, o.cur_csd, o.host_ipi, o.messages, o.queue,
                      o.latch, o.taken, o.last_t, o.sender);
    }
  };
  auto snap = [&]() {
    Snap s;
    s.in_guest = d.in_guest.load(std::memory_order_acquire);
    s.cur_csd = d.cur_csd.load(std::memory_order_acquire);
    s.host_ipi = d.host_ipi.value.load(std::memory_order_acquire);
    s.messages = MessageBits(d.message.value.load(std::memory_order_acquire));
    s.queue = d.queue.value.load(std::memory_order_acquire);
    s.latch = d.doorbell.value.load(std::memory_order_acquire) !=
              d.doorbell_taken.load(std::memory_order_acquire);
    s.taken = d.taken_guest.load(std::memory_order_acquire) +
              d.taken_host.load(std::memory_order_acquire);
    s.last_t = d.last_doorbell.t.load(std::memory_order_acquire);
    for (size_t i = 0; i < cpus_.size(); ++i) {
      if (cpus_[i]->sending_to.load(std::memory_order_acquire) == target) {
        s.sender = static_cast<int>(i);
      }
    }
    return s;
  };
  const Snap s = snap();
  const int64_t last_t = d.last_doorbell.t.load(std::memory_order_acquire);
  const uint64_t last_hipi =
      d.last_doorbell.host_ipi.load(std::memory_order_acquire);
  const uint64_t last_msgs =
      d.last_doorbell.messages.load(std::memory_order_acquire);
  const Snap s2 = snap();
  const bool stable = s == s2;

  if (s.cur_csd == self) {
    r.activity = TargetActivity::kThisRequest;
  } else if (s.cur_csd >= 0) {
    r.activity = TargetActivity::kPriorRequest;
    r.prior_sender = s.cur_csd;
    r.prior_func = CsdFuncName(
        static_cast<int>(cpus_[s.cur_csd]->csd_to[target]->func.value.load(
            std::memory_order_relaxed)));
  }
  const uint64_t cf = 1u << kCallFunction;
  const bool queued = (s.queue & (uint64_t{1} << self)) != 0;
  const int64_t now = Stamp(mem);
  const char* unit = Emulated() ? "ticks" : "ns";

  r.facts.push_back({"target mode", s.in_guest ? "in guest" : "in host"});
  r.facts.push_back({"host_ipi now", absl::StrCat(s.host_ipi)});
  r.facts.push_back({"pending messages", MessageBitsToString(s.messages)});
  std::vector<std::string> queued_from;
  for (int i = 0; i < options_.num_cpus; ++i) {
    if (s.queue & (uint64_t{1} << i))
      queued_from.push_back(absl::StrCat("CPU#", i));
  }
  r.facts.push_back({"call_single_queue",
                     absl::StrCat(queued_from.size(), " csd(s)",
                                  queued_from.empty() ? "" : " from ",
                                  absl::StrJoin(queued_from, ", "),
                                  queued ? " (this request is queued)" : "")});
  r.facts.push_back({"doorbell pending", s.latch ? "yes" : "no"});
  if (last_t >= 0) {
    r.facts.push_back(
        {"last doorbell taken in guest",
         last_hipi == 0
             ? absl::StrFormat(
                   "%d %s ago, host_ipi==0 while the messages "
                   "set were: %s -> ignored as the guest's doorbell",
                   StampToNs(now - last_t), unit,
                   MessageBitsToString(last_msgs))
             : absl::StrFormat("%d %s ago, host_ipi==%d -> handled in the host",
                               StampToNs(now - last_t), unit, last_hipi)});
  } else {
    r.facts.push_back({"last doorbell taken in guest", "none yet"});
  }
  const int64_t lh = d.last_handled.t.load(std::memory_order_acquire);
  if (lh >= 0) {
    r.facts.push_back(
        {"last demux",
         absl::StrFormat("%d %s ago (%s), read %s", StampToNs(now - lh), unit,
                         DemuxReadName(options_.model.demux),
                         MessageBitsToString(d.last_handled.messages.load(
                             std::memory_order_acquire)))});
  }
  if (HasStoreBuffers()) {
    Cpu& dm = *cpus_[target];
    absl::MutexLock lock(&dm.mu);
    r.facts.push_back({"stores still buffered when it took that doorbell",
                       dm.buffered_at_doorbell.empty()
                           ? "none"
                           : absl::StrJoin(dm.buffered_at_doorbell, ", ")});
    r.facts.push_back({"stores still buffered when it last read its messages",
                       dm.buffered_at_clear.empty()
                           ? "none"
                           : absl::StrJoin(dm.buffered_at_clear, ", ")});
  }
  r.facts.push_back(
      {"target doorbells",
       absl::StrFormat("%d taken in guest (%d ignored), %d taken in host",
                       d.taken_guest.load(std::memory_order_relaxed),
                       d.ignored.load(std::memory_order_relaxed),
                       d.taken_host.load(std::memory_order_relaxed))});
  r.facts.push_back(
      {"kernel model", absl::StrCat(options_.model.ToString(), " (",
                                    options_.model.Describe(), ")")});

  // The verdict: LOST only when the evidence says nothing will ever run the
  // csd: the target took its last doorbell in the guest with host_ipi==0
  // while CALL_FUNCTION was set, went back into the guest, and no doorbell
  // or sender is on its way.
  stall::WaitEvidence ev;
  ev.examined = stable;
  ev.unexamined_why = "the target changed state while being examined";
  ev.request_queued = queued;
  ev.target_work = r.activity == TargetActivity::kThisRequest ? stall::TargetWork::kThisRequest
                   : r.activity == TargetActivity::kNothing   ? stall::TargetWork::kNothing
                                                              : stall::TargetWork::kOtherRequest;
  ev.interrupt_pending = s.latch;  // a doorbell it has not taken yet
  ev.sender_in_flight = s.sender;  // mid message pass to it
  // The modelled demux loops until no message is set: a target running any
  // csd will see CALL_FUNCTION again.
  if (r.activity == TargetActivity::kPriorRequest) ev.other_progress.push_back("it is running csds");
  if (!s.in_guest) ev.other_progress.push_back("it is in host mode (it will poll for doorbells)");
  if (s.host_ipi != 0) ev.other_progress.push_back("host_ipi is 1, so the next doorbell is handled");
  if (!(s.messages & cf) && queued) {
    ev.other_progress.push_back("CALL_FUNCTION is not set although a csd is queued");
  }
  if (last_t < 0) {
    ev.other_progress.push_back("it has taken no doorbell in the guest");
  } else {
    if (last_hipi != 0) ev.other_progress.push_back("its last doorbell saw host_ipi==1");
    if (!(last_msgs & cf)) {
      ev.other_progress.push_back("CALL_FUNCTION was not set when it took its last doorbell");
    }
  }
  const stall::Judgement j = stall::Judge(ev);
  if (j.verdict == stall::Verdict::kLost) {
    r.verdict = StallVerdict::kLost;
    r.verdict_reason = absl::StrCat(
        "CPU#", target,
        " took its last doorbell in the guest with host_ipi==0 while "
        "CALL_FUNCTION was set, ignored it as the guest's and went back into "
        "the guest; host_ipi is 0, no doorbell is pending and no CPU is "
        "sending one, so nothing will run the queued csd (lost IPI)");
  } else {
    r.verdict = StallVerdict::kSlow;
    r.verdict_reason = absl::StrCat("no evidence of a lost IPI: ", j.slow_because);
  }

  std::vector<int> involved = {target, self};
  for (int i = 0; i < options_.num_cpus; ++i) {
    if (i != target && i != self && (s.queue & (uint64_t{1} << i))) {
      involved.push_back(i);
    }
  }
  std::vector<TraceEvent> events;
  {
    Cpu& dm = *cpus_[target];
    absl::MutexLock lock(&dm.mu);
    if (!dm.suspect_events.empty() && dm.suspect_t == last_t) {
      events = dm.suspect_events;  // the history up to the ignored doorbell
    }
  }
  const size_t history = static_cast<size_t>(2 * options_.trace_events_per_cpu);
  if (events.size() > history) {
    events.erase(events.begin(), events.end() - history);
  }
  const int64_t since = events.empty() ? INT64_MIN : events.back().t;
  std::vector<TraceEvent> recent =
      CollectEvents(involved, target, options_.trace_events_per_cpu, since);
  // After a frozen history only the latest few events matter.
  const size_t tail =
      events.empty() ? history
                     : static_cast<size_t>(options_.trace_events_per_cpu / 2);
  if (recent.size() > tail) recent.erase(recent.begin(), recent.end() - tail);
  if (!events.empty() && !recent.empty()) {
    // Mark the gap between the frozen history and what came after.
    TraceEvent gap = recent.front();
    gap.kind = TraceKind::kGap;
    events.push_back(gap);
  }
  events.insert(events.end(), recent.begin(), recent.end());
  r.trace = FormatEvents(events);
  return r;
}

std::string HostIpiPlane::FormatEvent(const TraceEvent& e) const {
  switch (e.kind) {
    case TraceKind::kSetMessage:
      return absl::StrFormat(
          "smp_muxed_ipi_set_message(%d): %smessage[%s] = 1%s", e.a,
          e.flag ? "smp_mb(); " : "",
          IpiMessageName(static_cast<int>(e.b & 0xff)),
          (e.b & 0x100) ? "   // STORE BUFFERED" : "");
    case TraceKind::kSetHostIpi:
      return absl::StrFormat("%skvmppc_set_host_ipi(%d, 1)%s",
                             e.flag ? "smp_mb(); " : "", e.a,
                             e.b ? "   // STORE BUFFERED" : "");
    case TraceKind::kMsgsnd:
      return absl::StrFormat("ppc_msgsnd_sync()/smp_mb(); ppc_msgsnd() -> %d",
                             e.a);
    case TraceKind::kDoorbellGuest:
      return e.flag ? absl::StrFormat(
                          "doorbell exit from the guest, ppc_msgsync(): "
                          "kvm_hstate.host_ipi == %d -> host",
                          e.a)
                    : absl::StrFormat(
                          "doorbell exit from the guest, ppc_msgsync(): "
                          "kvm_hstate.host_ipi == %d (messages set: %s)",
                          e.a, MessageBitsToString(e.b));
    case TraceKind::kIgnored:
      return "host_ipi == 0: doorbell taken as the guest's // IPI IGNORED";
    case TraceKind::kDoorbellHost:
      return "doorbell_exception() in host mode, ppc_msgsync()";
    case TraceKind::kClearHostIpi:
      return absl::StrFormat("kvmppc_clear_host_ipi(%d)%s%s", e.cpu,
                             e.flag ? "; smp_mb()" : "",
                             e.a ? "   // STORE BUFFERED" : "");
    case TraceKind::kDemux:
      return absl::StrFormat("smp_ipi_demux_relaxed(): %s -> %s%s",
                             DemuxReadName(static_cast<DemuxRead>(e.b)),
                             MessageBitsToString(e.a),
                             e.flag ? " (peek saw 0, no xchg)" : "");
    case TraceKind::kRunCsd:
      return absl::StrFormat("call_single_queue: run %s() from CPU#%d",
                             CsdFuncName(static_cast<int>(e.b)), e.a);
    case TraceKind::kCsdUnlock:
      return absl::StrFormat("csd_unlock(csd of CPU#%d)", e.a);
    case TraceKind::kEnterGuest:
      return "enter guest";
    case TraceKind::kGuestExit:
      return "guest exit (page fault) -> host";
    case TraceKind::kCallMany:
      return absl::StrFormat("smp_call_function_many(CPUs %s, %s)",
                             CpuList(e.a), CsdFuncName(static_cast<int>(e.b)));
    case TraceKind::kCsdWait:
      return absl::StrFormat("csd_lock_wait(csd for CPU#%d)", e.a);
    case TraceKind::kCsdWaitDone:
      return absl::StrFormat("csd_lock_wait(csd for CPU#%d) done", e.a);
    case TraceKind::kStall:
      return absl::StrFormat("csd: stall report #%d about CPU#%d", e.b, e.a);
    case TraceKind::kResend:
      return absl::StrFormat("re-send CALL_FUNCTION to CPU#%d", e.a);
    case TraceKind::kGap:
      return "...";
    case TraceKind::kStoreVisible: {
      std::string what =
          e.b == 4
              ? (static_cast<int>(e.a) == e.cpu
                     ? absl::StrFormat("kvmppc_clear_host_ipi(%d)", e.a)
                     : absl::StrFormat("kvmppc_set_host_ipi(%d, 1)", e.a))
              : absl::StrFormat("message[%s] = 1 (to %d)",
                                IpiMessageName(static_cast<int>(e.b)), e.a);
      return absl::StrCat(what, e.flag ? "   // BUFFERED STORE DROPPED: "
                                         "ordered before a newer value"
                                       : "   // BUFFERED STORE COMPLETES");
    }
  }
  return "?";
}

std::vector<TraceEvent> HostIpiPlane::CollectEvents(
    const std::vector<int>& cpus, int focus, int per_cpu, int64_t since) const {
  std::vector<TraceEvent> all;
  for (int cpu : cpus) {
    if (cpu < 0 || cpu >= options_.num_cpus) continue;
    std::vector<TraceEvent> ev = cpus_[cpu]->trace.Snapshot(cpu);
    size_t kept = 0;
    for (auto it = ev.rbegin();
         it != ev.rend() && kept < static_cast<size_t>(per_cpu); ++it) {
      if (it->t <= since) break;
      bool relevant = false;
      switch (it->kind) {
        // The focus CPU as a receiver.
        case TraceKind::kDoorbellGuest:
        case TraceKind::kIgnored:
        case TraceKind::kDoorbellHost:
        case TraceKind::kClearHostIpi:
        case TraceKind::kDemux:
        case TraceKind::kRunCsd:
        case TraceKind::kCsdUnlock:
        case TraceKind::kEnterGuest:
        case TraceKind::kGuestExit:
          relevant = cpu == focus;
          break;
        // Any CPU as a sender to the focus CPU.
        case TraceKind::kSetMessage:
        case TraceKind::kSetHostIpi:
        case TraceKind::kMsgsnd:
        case TraceKind::kCsdWait:
        case TraceKind::kCsdWaitDone:
        case TraceKind::kStall:
        case TraceKind::kResend:
          relevant = static_cast<int>(it->a) == focus;
          break;
        case TraceKind::kCallMany:
          relevant = (it->a >> focus) & 1;
          break;
        case TraceKind::kStoreVisible:
          relevant = static_cast<int>(it->a) == focus;
          break;
        case TraceKind::kGap:
          break;
      }
      if (relevant) {
        all.push_back(*it);
        ++kept;
      }
    }
  }
  std::sort(all.begin(), all.end(),
            [](const TraceEvent& x, const TraceEvent& y) {
              return std::tie(x.t, x.cpu, x.seq) < std::tie(y.t, y.cpu, y.seq);
            });
  return all;
}

std::vector<std::string> HostIpiPlane::FormatEvents(
    const std::vector<TraceEvent>& events) const {
  std::vector<std::string> lines;
  if (events.empty()) return lines;
  const int64_t t0 = events.front().t;
  lines.push_back(
      absl::StrFormat("  %12s   CPU", Emulated() ? "t+ticks" : "t+ns"));
  for (const TraceEvent& e : events) {
    lines.push_back(absl::StrFormat("  %12d  %4d: %s", StampToNs(e.t - t0),
                                    e.cpu, FormatEvent(e)));
  }
  return lines;
}

std::vector<std::string> HostIpiPlane::FormatTrace(const std::vector<int>& cpus,
                                                   int per_cpu) const {
  if (cpus.empty()) return {};
  return FormatEvents(CollectEvents(cpus, cpus[0], per_cpu, INT64_MIN));
}

}  // namespace hostipi
}  // namespace kvmbed
