#include "hostipi/wakelist.h"

#include <algorithm>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/stall_verdict.h"
#include "hostipi/muxed_ipi.h"
#include "hostipi/trace.h"

namespace kvmbed {
namespace hostipi {
namespace {

// p->state of a modelled task.
constexpr uint64_t kTaskSleeping = 0;
constexpr uint64_t kTaskWaking = 1;
constexpr uint64_t kTaskRunning = 2;

constexpr int kMaxCpus = 64;  // rq->wake_list is a bitmask of wakers

// Trace events, kept in one EventRing per CPU (hostipi/trace.h).
enum class Ev : uint8_t {
  kWake,          // a = target: p->state = TASK_WAKING
  kQueue,         // a = target, b = list before (bit w); flag = still buffered
  kSetMessage,    // a = target; flag = message-pass mb; b = still buffered
  kCauseIpi,      // a = target; flag = cause-ipi mb
  kIrq,           // a = sender of the doorbell taken
  kDemux,         // a = message bits read, b = DemuxRead
  kSchedIpiEmpty, // a = the list as RMWs would see it (coherent)
  kTtwuPending,   // a = entries taken (bit w)
  kWoken,         // a = waker of the task now TASK_RUNNING
  kVisible,       // a = target, b = 0 wake_list entry / 1 message; flag = dropped
  kStuck,         // a = target
};

using Event = RingEvent<Ev>;
// Each CPU's ring holds the events about it: its own, and every sender's
// for it (the writer is named in the event).
using Ring = EventRing<Ev, 4096>;

std::string TaskName(int waker, int target) {
  return absl::StrCat("wakee/", waker, "->", target);
}

std::string EntryList(uint64_t bits, int target) {
  std::vector<std::string> names;
  for (int w = 0; w < 64; ++w) {
    if (bits & (uint64_t{1} << w)) names.push_back(TaskName(w, target));
  }
  return names.empty() ? "empty" : absl::StrJoin(names, ", ");
}

std::string SitesOf(const KernelModel& m) {
  return absl::StrCat("message-pass-mb=", m.message_pass_mb ? "on" : "off",
                      " demux=", DemuxReadName(m.demux),
                      " cause-ipi-mb=", m.cause_ipi_mb ? "on" : "off");
}

uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int64_t DefaultThreshold(int cpus) {
  return 200'000 + 50'000 * std::max(0, cpus - 4);
}

// One phase: the modelled CPUs, their shared words and the detector.
class Sim {
 public:
  Sim(const WakelistOptions& o, KernelModel model, int64_t threshold)
      : o_(o), model_(std::move(model)), threshold_(threshold) {
    const int n = o_.num_cpus;
    const int seen_words = (n + 7) / 8;
    for (int i = 0; i < n; ++i) {
      auto c = std::make_unique<Cpu>();
      c->message.name = Name(absl::StrCat("ipi_message[", i, "]"));
      c->doorbell.name = Name(absl::StrCat("cause_ipi[", i, "]"));
      c->wake_list.name = Name(absl::StrCat("rq[", i, "]->wake_list"));
      for (int k = 0; k < seen_words; ++k) {
        auto w = std::make_unique<SharedWord>();
        w->name = Name(absl::StrCat("wake_list_seen[", i, "]#", k));
        c->seen.push_back(std::move(w));
      }
      for (int t = 0; t < n; ++t) {
        auto w = std::make_unique<SharedWord>();
        w->name = Name(absl::StrCat(TaskName(i, t), "->state"));
        c->task.push_back(std::move(w));
      }
      c->info.resize(n);
      cpus_.push_back(std::move(c));
    }
  }

  absl::StatusOr<WakelistPhase> Run(absl::Duration budget,
                                    int64_t stop_after) {
    stop_after_ = stop_after;
    RunOptions run;
    run.mode = OrderingMode::kEmulatedPower;
    run.seed = o_.seed;
    run.trace = [this](const MemoryTraceEvent& e) { OnMemoryEvent(e); };
    absl::Status valid = ValidateRunOptions(run);
    if (!valid.ok()) return valid;
    std::unique_ptr<MemorySystem> sys = MemorySystem::Create(run);
    sys_ = sys.get();
    std::vector<CpuBody> bodies;
    for (int i = 0; i < o_.num_cpus; ++i) {
      bodies.push_back([this](CpuMemory& mem) { Body(mem); });
    }
    start_ = absl::Now();
    absl::Status s = sys->Run(bodies, budget);
    if (!s.ok()) return s;
    phase_.seconds = absl::ToDoubleSeconds(absl::Now() - start_);
    phase_.kernel_model = model_.ToString();
    phase_.sites = SitesOf(model_);
    phase_.wakeups = wakeups_;
    phase_.ipis = ipis_;
    phase_.slow = slow_;
    phase_.ticks = static_cast<int64_t>(sys->stats().ops);
    if (phase_.report.empty()) phase_.report = slow_report_;
    sys_ = nullptr;
    return phase_;
  }

 private:
  struct TaskInfo {
    int64_t woken_t = -1;
    absl::Time woken_wall;
    uint64_t list_before = 0;
    int64_t message_t = -1;  // -1: no IPI (the list was not empty)
    int64_t cause_t = -1;
  };
  struct MissRead {  // scheduler_ipi() read the list empty while it was not
    int64_t t = -1;
    uint64_t list = 0;      // coherent list then
    uint64_t messages = 0;  // what that demux iteration took
    uint64_t visible = 0;   // entries visible in memory at the message read
    int irq_from = -1;
    std::vector<std::string> buffered;
  };
  struct Pending {  // a store traced as still buffered
    const SharedWord* word;
    int byte;
    int target;
    int what;  // 0 wake_list entry, 1 message
  };
  struct Cpu {
    SharedWord message;    // byte m = message m (StoreByte)
    SharedWord doorbell;   // cause_ipi latch: Signal, unique per IPI
    SharedWord wake_list;  // rq->wake_list: bit w = task (w -> this) queued
    // The same list as other CPUs' plain loads see it: byte w%8 of word
    // w/8. llist_add's stwcx. is one store on POWER; the emulation makes
    // an RMW visible at once, so the store's late arrival at plain loads
    // is modelled by this second, bufferable byte store.
    std::vector<std::unique_ptr<SharedWord>> seen;
    std::vector<std::unique_ptr<SharedWord>> task;  // task[t]: wakee on t
    std::vector<TaskInfo> info;                     // info[t]: of task[t]
    CpuMemory* mem = nullptr;
    uint64_t doorbell_taken = 0;
    uint64_t sent = 0;
    bool in_irq = false;
    int irq_from = -1;
    int64_t irq_t = -1;
    uint64_t irq_first_read = 0;
    uint64_t visible_at_demux = 0;  // entries visible when it read messages
    int waking_to = -1;
    MissRead miss;
    std::vector<Pending> pending;
    Ring ring;
    uint64_t rng = 0;
  };

  const char* Name(std::string s) {
    names_.push_back(std::make_unique<std::string>(std::move(s)));
    return names_.back()->c_str();
  }

  // Events go to the ring of the CPU they are about: the receiver's own
  // events and every sender's events for it. After a loss nothing is sent
  // to the stuck CPU any more, so its ring keeps the history.
  void Trace(CpuMemory& mem, int about, Ev kind, uint64_t a = 0,
             uint64_t b = 0, bool flag = false) {
    cpus_[about]->ring.Add(mem.NowNs(), kind, a, b, flag, mem.cpu());
  }

  void Body(CpuMemory& mem) {
    const int self = mem.cpu();
    Cpu& me = *cpus_[self];
    me.mem = &mem;
    me.rng = o_.seed * 0x100000001b3ull + static_cast<uint64_t>(self);
    const int n = o_.num_cpus;
    while (!mem.StopRequested()) {
      int t = static_cast<int>(SplitMix(me.rng) % (n - 1));
      if (t >= self) ++t;
      Wake(mem, t);
      if (!WaitTask(mem, t)) return;
      const int64_t work =
          static_cast<int64_t>(SplitMix(me.rng) % (o_.work_relax + 1));
      for (int64_t i = 0; i < work && !mem.StopRequested(); ++i) {
        InterruptPoint(mem);
        mem.Relax();
      }
    }
  }

  // try_to_wake_up() -> ttwu_queue_remote().
  void Wake(CpuMemory& mem, int t) {
    const int self = mem.cpu();
    Cpu& me = *cpus_[self];
    Cpu& tc = *cpus_[t];
    me.waking_to = t;
    TaskInfo& ti = me.info[t];
    ti = TaskInfo();
    ti.woken_t = mem.NowNs();
    ti.woken_wall = absl::Now();
    mem.Store(*me.task[t], kTaskWaking);
    Trace(mem, t, Ev::kWake, t);
    // llist_add(): cmpxchg = PPC_RELEASE_BARRIER (lwsync), lwarx/stwcx.,
    // isync (orders later loads only).
    mem.LightBarrier();
    const uint64_t before =
        mem.FetchOr(tc.wake_list, uint64_t{1} << self, false);
    SharedWord& seen = *tc.seen[self / 8];
    mem.StoreByte(seen, self % 8, 1);
    const bool buffered =
        !((seen.value.load(std::memory_order_relaxed) >> (8 * (self % 8))) &
          0xff);
    if (buffered) me.pending.push_back({&seen, self % 8, t, 0});
    ti.list_before = before;
    Trace(mem, t, Ev::kQueue, t, before, buffered);
    if (before == 0) MessagePass(mem, t);  // smp_send_reschedule(t)
    me.waking_to = -1;
  }

  // smp_muxed_ipi_message_pass(t, PPC_MSG_RESCHEDULE).
  void MessagePass(CpuMemory& mem, int t) {
    Cpu& me = *cpus_[mem.cpu()];
    Cpu& tc = *cpus_[t];
    TaskInfo& ti = me.info[t];
    const bool buffered = SetMessage(mem, tc.message, kReschedule, model_);
    if (buffered) me.pending.push_back({&tc.message, kReschedule, t, 1});
    ti.message_t = mem.NowNs();
    Trace(mem, t, Ev::kSetMessage, t, buffered, model_.message_pass_mb);
    if (model_.cause_ipi_mb) mem.FullBarrier();
    mem.Signal(tc.doorbell, DoorbellValue(mem.cpu(), ++me.sent));
    ti.cause_t = mem.NowNs();
    Trace(mem, t, Ev::kCauseIpi, t, 0, model_.cause_ipi_mb);
    ++ipis_;
  }

  // Interrupts are on here: take a pending IPI.
  void InterruptPoint(CpuMemory& mem) {
    Cpu& c = *cpus_[mem.cpu()];
    const uint64_t v = mem.Load(c.doorbell);
    if (v == c.doorbell_taken) return;
    c.doorbell_taken = v;
    c.in_irq = true;
    c.irq_from = DoorbellSender(v);
    c.irq_t = mem.NowNs();
    Trace(mem, mem.cpu(), Ev::kIrq, static_cast<uint64_t>(c.irq_from));
    Demux(mem);
    c.in_irq = false;
  }

  // The IPI handler of these kernels calls smp_ipi_demux(): mb() first.
  void Demux(CpuMemory& mem) {
    Cpu& c = *cpus_[mem.cpu()];
    hostipi::Demux(mem, c.message, model_, DemuxEntry::kWithMb,
                   [&](const DemuxTake& take) {
      c.visible_at_demux = VisibleEntries(c);
      if (take.first) c.irq_first_read = take.bits;
      Trace(mem, mem.cpu(), Ev::kDemux, take.bits,
            static_cast<uint64_t>(model_.demux));
      if (take.bits & (1u << kReschedule)) SchedulerIpi(mem, take.bits);
    });
  }

  // Observer view: the wake_list entries whose plain-load copy is in memory.
  static uint64_t VisibleEntries(const Cpu& c) {
    uint64_t out = 0;
    for (size_t k = 0; k < c.seen.size(); ++k) {
      const uint64_t w = c.seen[k]->value.load(std::memory_order_relaxed);
      for (int b = 0; b < 8; ++b) {
        if ((w >> (8 * b)) & 0xff) out |= uint64_t{1} << (8 * k + b);
      }
    }
    return out;
  }

  // scheduler_ipi() -> sched_ttwu_pending().
  void SchedulerIpi(CpuMemory& mem, uint64_t bits) {
    const int self = mem.cpu();
    Cpu& c = *cpus_[self];
    // llist_empty(&this_rq()->wake_list): plain loads.
    uint64_t seen = 0;
    for (size_t k = 0; k < c.seen.size(); ++k) {
      const uint64_t w = mem.Load(*c.seen[k]);
      for (int b = 0; b < 8; ++b) {
        if ((w >> (8 * b)) & 0xff) seen |= uint64_t{1} << (8 * k + b);
      }
    }
    if (seen == 0) {
      const uint64_t list = c.wake_list.value.load(std::memory_order_relaxed);
      Trace(mem, mem.cpu(), Ev::kSchedIpiEmpty, list);
      if (list != 0) {
        c.miss.t = mem.NowNs();
        c.miss.list = list;
        c.miss.messages = bits;
        c.miss.visible = c.visible_at_demux;
        c.miss.irq_from = c.irq_from;
        c.miss.buffered = AllBufferedStores();
      }
      return;
    }
    const uint64_t taken = mem.Exchange(c.wake_list, 0, true);  // del_all
    for (int w = 0; w < o_.num_cpus; ++w) {
      if (taken & (uint64_t{1} << w)) mem.StoreByte(*c.seen[w / 8], w % 8, 0);
    }
    mem.LightBarrier();
    Trace(mem, mem.cpu(), Ev::kTtwuPending, taken);
    for (int w = 0; w < o_.num_cpus; ++w) {
      if (!(taken & (uint64_t{1} << w))) continue;
      for (int64_t i = 0; i < o_.ttwu_relax; ++i) mem.Relax();
      mem.Store(*cpus_[w]->task[self], kTaskRunning);  // ttwu_do_wakeup()
      Trace(mem, mem.cpu(), Ev::kWoken, static_cast<uint64_t>(w));
    }
  }

  // The waker watches its wakee like the hung-task detector.
  bool WaitTask(CpuMemory& mem, int t) {
    Cpu& me = *cpus_[mem.cpu()];
    SharedWord& task = *me.task[t];
    const int64_t start = me.info[t].woken_t;
    int64_t next = start + threshold_;
    bool reported = false;
    while (mem.Load(task) != kTaskRunning) {
      InterruptPoint(mem);
      mem.Relax();
      if (mem.StopRequested()) return false;
      if (mem.NowNs() < next) continue;
      next = mem.NowNs() + threshold_;
      reported = true;
      if (Report(mem, t)) {
        sys_->RequestStop();
        return false;
      }
    }
    mem.LightBarrier();
    mem.Store(task, kTaskSleeping);  // it ran, and sleeps again
    if (reported) ++slow_;
    ++wakeups_;
    if (stop_after_ > 0 && wakeups_ >= stop_after_) sys_->RequestStop();
    return true;
  }

  std::vector<std::string> AllBufferedStores() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < cpus_.size(); ++i) {
      const CpuMemory* m = cpus_[i]->mem;
      if (m == nullptr) continue;
      for (const std::string& s : m->BufferedStores()) {
        out.push_back(absl::StrCat("CPU#", i, " ", Readable(s)));
      }
    }
    return out;
  }

  // "wake_list_seen[3]#0.byte1=1" -> "rq[3]->wake_list += wakee/1->3
  // (llist_add's stwcx.)"; "ipi_message[3].byte1=1" ->
  // "ipi_message[3].RESCHEDULE=1".
  static std::string Readable(const std::string& s) {
    if (s.rfind("ipi_message[", 0) == 0) return NameMessageStore(s);
    const size_t at = s.find(".byte");
    if (at == std::string::npos || at + 7 > s.size()) return s;
    const int byte = s[at + 5] - '0';
    const std::string value = s.substr(at + 7);
    if (s.rfind("wake_list_seen[", 0) == 0) {
      const size_t close = s.find(']');
      const size_t hash = s.find('#');
      int target = 0, word = 0;
      if (close != std::string::npos && hash != std::string::npos &&
          absl::SimpleAtoi(s.substr(15, close - 15), &target) &&
          absl::SimpleAtoi(s.substr(hash + 1, at - hash - 1), &word)) {
        const int waker = 8 * word + byte;
        return value == "0"
                   ? absl::StrCat("rq[", target, "]->wake_list -= ",
                                  TaskName(waker, target),
                                  " (llist_del_all, as plain loads see it)")
                   : absl::StrCat("rq[", target, "]->wake_list += ",
                                  TaskName(waker, target),
                                  " (llist_add's stwcx.)");
      }
    }
    return s;
  }

  void OnMemoryEvent(const MemoryTraceEvent& e) {
    if (e.op != MemoryOp::kDrain && e.op != MemoryOp::kCoherenceDrop) return;
    if (e.cpu < 0 || e.cpu >= o_.num_cpus) return;
    Cpu& c = *cpus_[e.cpu];
    const bool dropped = e.op == MemoryOp::kCoherenceDrop;
    for (size_t i = 0; i < c.pending.size(); ++i) {
      const Pending& p = c.pending[i];
      if (p.word != e.word) continue;
      if (!dropped && !((e.value >> (8 * p.byte)) & 0xff)) continue;
      cpus_[p.target]->ring.Add(e.time, Ev::kVisible, p.target, p.what, dropped,
                                e.cpu);
      c.pending.erase(c.pending.begin() + i);
      return;
    }
  }

  std::string FormatEvent(const Event& e) const {
    switch (e.kind) {
      case Ev::kWake:
        return absl::StrFormat("try_to_wake_up(%s): p->state = TASK_WAKING",
                               TaskName(e.cpu, static_cast<int>(e.a)));
      case Ev::kQueue:
        return absl::StrFormat(
            "ttwu_queue_remote(): llist_add(rq[%d]->wake_list) (list was %s)%s",
            e.a, e.b == 0 ? "empty -> IPI" : "not empty -> no IPI",
            e.flag ? "   // STORE BUFFERED" : "");
      case Ev::kSetMessage:
        return absl::StrFormat(
            "smp_muxed_ipi_message_pass(%d): %smessage[RESCHEDULE] = 1%s", e.a,
            e.flag ? "smp_mb(); " : "", e.b ? "   // STORE BUFFERED" : "");
      case Ev::kCauseIpi:
        return absl::StrFormat("%scause_ipi(%d)", e.flag ? "smp_mb(); " : "",
                               e.a);
      case Ev::kIrq:
        return absl::StrFormat("IPI from CPU#%d", e.a);
      case Ev::kDemux:
        return absl::StrFormat(
            "smp_ipi_demux(): %s -> %s",
            static_cast<DemuxRead>(e.b) == DemuxRead::kXchgRelaxed
                ? "xchg_local"
                : DemuxReadName(static_cast<DemuxRead>(e.b)),
            MessageBitsToString(e.a));
      case Ev::kSchedIpiEmpty:
        return absl::StrFormat(
            "scheduler_ipi(): llist_empty(&rq->wake_list) -> empty, return%s",
            e.a != 0 ? absl::StrCat("   // MISSED ", EntryList(e.a, e.cpu))
                     : std::string());
      case Ev::kTtwuPending:
        return absl::StrFormat("sched_ttwu_pending(): llist_del_all -> %s",
                               EntryList(e.a, e.cpu));
      case Ev::kWoken:
        return absl::StrFormat("ttwu_do_wakeup(%s): TASK_RUNNING",
                               TaskName(static_cast<int>(e.a), e.cpu));
      case Ev::kVisible:
        return absl::StrCat(
            e.b == 0 ? absl::StrFormat("llist_add(rq[%d]->wake_list)", e.a)
                     : absl::StrFormat("message[RESCHEDULE] = 1 (to %d)", e.a),
            e.flag ? "   // BUFFERED STORE DROPPED"
                   : "   // BUFFERED STORE COMPLETES");
      case Ev::kStuck:
        return absl::StrFormat("hung task: %s still TASK_WAKING",
                               TaskName(e.cpu, static_cast<int>(e.a)));
    }
    return "?";
  }

  // The events about target t (its receiver side, everyone's sends to it)
  // from `since` on, merged by time.
  std::vector<std::string> TraceAbout(int t, int64_t since) const {
    std::vector<Event> all;
    for (const Event& e : cpus_[t]->ring.Snapshot(t)) {
      if (e.t >= since) all.push_back(e);
    }
    std::sort(all.begin(), all.end(), [](const Event& x, const Event& y) {
      return std::tie(x.t, x.cpu, x.seq) < std::tie(y.t, y.cpu, y.seq);
    });
    std::vector<std::string> lines;
    if (all.empty()) return lines;
    constexpr size_t kHead = 40, kTail = 8;
    lines.push_back(absl::StrFormat("  %10s   CPU", "t+ticks"));
    const int64_t t0 = all.front().t;
    for (size_t i = 0; i < all.size(); ++i) {
      if (all.size() > kHead + kTail && i == kHead) {
        lines.push_back(absl::StrFormat("  %10s", "..."));
        i = all.size() - kTail;
      }
      lines.push_back(absl::StrFormat("  %10d  %4d: %s", all[i].t - t0,
                                      all[i].cpu, FormatEvent(all[i])));
    }
    return lines;
  }

  // A task past the threshold: decide LOST or SLOW and write the report.
  // Returns true for LOST.
  bool Report(CpuMemory& mem, int t) {
    const int self = mem.cpu();
    Cpu& me = *cpus_[self];
    Cpu& d = *cpus_[t];
    const TaskInfo& ti = me.info[t];
    const int64_t now = mem.NowNs();
    const uint64_t bit = uint64_t{1} << self;
    const uint64_t list = d.wake_list.value.load(std::memory_order_relaxed);
    uint64_t seen = 0;
    for (size_t k = 0; k < d.seen.size(); ++k) {
      const uint64_t w = d.seen[k]->value.load(std::memory_order_relaxed);
      for (int b = 0; b < 8; ++b)
        if ((w >> (8 * b)) & 0xff) seen |= uint64_t{1} << (8 * k + b);
    }
    const uint64_t msgs =
        MessageBits(d.message.value.load(std::memory_order_relaxed));
    const bool latch = d.doorbell.value.load(std::memory_order_relaxed) !=
                       d.doorbell_taken;
    int sender = -1;
    for (size_t i = 0; i < cpus_.size(); ++i) {
      if (cpus_[i]->waking_to == t) sender = static_cast<int>(i);
    }
    const bool queued = (list & bit) != 0;
    const bool missed = d.miss.t >= ti.woken_t && (d.miss.list & bit);
    const bool resched_set = (msgs & (1u << kReschedule)) != 0;

    stall::WaitEvidence ev;
    ev.request_queued = queued;  // the task's entry on the target's wake_list
    ev.interrupt_in_service = d.in_irq;
    ev.interrupt_pending = latch;
    ev.sender_in_flight = sender;  // mid wake-up of it
    const stall::Judgement judgement = stall::Judge(ev);
    const bool lost = judgement.verdict == stall::Verdict::kLost;
    d.ring.Add(now, Ev::kStuck, t, 0, false, self);

    const double wall = absl::ToDoubleSeconds(absl::Now() - ti.woken_wall);
    std::vector<std::string> out;
    out.push_back(absl::StrFormat(
        "INFO: task %s stuck in TASK_WAKING for %.3fs (%d ticks): woken by "
        "CPU#%d onto CPU#%d, never ran",
        TaskName(self, t), wall, now - ti.woken_t, self, t));
    auto fact = [&out](const std::string& k, const std::string& v) {
      out.push_back(absl::StrCat("\t", k, ": ", v));
    };
    fact("missed wake_list entry",
         absl::StrFormat("%s on rq[%d]->wake_list, queued %d ticks ago (the "
                         "list was %s%s)",
                         TaskName(self, t), t, now - ti.woken_t,
                         EntryList(ti.list_before, t),
                         ti.list_before == 0 ? " -> smp_send_reschedule()"
                                             : " -> no IPI of its own"));
    fact(absl::StrFormat("rq[%d]->wake_list now", t), EntryList(list, t));
    fact("as plain loads see it", EntryList(seen, t));
    if (ti.message_t >= 0) {
      fact("its IPI",
           absl::StrFormat(
               "%smessage[RESCHEDULE] = 1 %d ticks after the llist_add, "
               "%scause_ipi(%d) %d ticks after",
               model_.message_pass_mb ? "smp_mb(); " : "",
               ti.message_t - ti.woken_t,
               model_.cause_ipi_mb ? "smp_mb(); " : "", t,
               ti.cause_t - ti.woken_t));
    }
    fact(absl::StrFormat("ipi_message[%d] now", t), MessageBitsToString(msgs));
    if (missed) {
      fact("what the receiver read",
           absl::StrFormat(
               "%d ticks after the llist_add, CPU#%d's smp_ipi_demux() "
               "(in an IPI from CPU#%d) took %s and scheduler_ipi() read "
               "rq->wake_list empty (plain load) while it held %s; it "
               "returned without waking anyone",
               d.miss.t - ti.woken_t, t, d.miss.irq_from,
               MessageBitsToString(d.miss.messages),
               EntryList(d.miss.list, t)));
      fact("why it read empty",
           (d.miss.visible & bit)
               ? absl::StrFormat(
                     "the entry was visible in memory when CPU#%d read the "
                     "messages: its later plain load of the list was "
                     "satisfied early (%s orders nothing after the read)",
                     t, model_.demux == DemuxRead::kXchgRelaxed
                            ? "xchg_local()"
                            : DemuxReadName(model_.demux))
               : absl::StrFormat(
                     "when CPU#%d read the messages, CPU#%d's later message "
                     "store was visible but its earlier llist_add store was "
                     "not (%s)",
                     t, self,
                     model_.message_pass_mb
                         ? "smp_mb() was on: not expected"
                         : "no smp_mb() before the message store"));
      fact("stores still buffered at that read",
           d.miss.buffered.empty() ? "none"
                                   : absl::StrJoin(d.miss.buffered, ", "));
    } else {
      fact("what the receiver read",
           "no scheduler_ipi() read the list empty while this entry was on "
           "it");
    }
    if (d.irq_t >= 0) {
      fact(absl::StrFormat("CPU#%d's last IPI", t),
           absl::StrFormat("from CPU#%d, %d ticks ago; its first demux read %s",
                           d.irq_from, now - d.irq_t,
                           MessageBitsToString(d.irq_first_read)));
    }
    if (resched_set && lost) {
      fact("RESCHEDULE is set but no IPI is coming",
           "the message store became visible after the target had taken the "
           "IPI (and read no message)");
    }
    fact("IPI pending / in handler / CPUs mid wake-up of it",
         absl::StrFormat("%s / %s / %s", latch ? "yes" : "no",
                         d.in_irq ? "yes" : "no",
                         sender >= 0 ? absl::StrCat("CPU#", sender) : "none"));
    fact("stores buffered now", [&] {
      std::vector<std::string> b = AllBufferedStores();
      return b.empty() ? std::string("none") : absl::StrJoin(b, ", ");
    }());
    fact("kernel model",
         absl::StrCat(model_.ToString(), " (", SitesOf(model_), ")"));
    if (lost) {
      out.push_back(absl::StrCat(
          "\tverdict: LOST - ", TaskName(self, t), " is queued on CPU#", t,
          "'s wake_list but no IPI is pending or being sent to CPU#", t,
          " and it is not in its handler; later wakers see a non-empty list "
          "and send none, so nothing will run sched_ttwu_pending() there"));
    } else {
      out.push_back(absl::StrCat("\tverdict: SLOW - ",
                                 judgement.slow_because));
    }
    out.push_back("\ttrace:");
    const int64_t since =
        std::min(ti.woken_t, d.miss.t >= 0 ? d.miss.t : ti.woken_t) - 200;
    for (const std::string& l : TraceAbout(t, since)) out.push_back(l);
    std::string text = absl::StrJoin(out, "\n");
    text.push_back('\n');

    if (lost && !phase_.hung) {
      phase_.hung = true;
      phase_.seconds_to_hang = absl::ToDoubleSeconds(absl::Now() - start_);
      phase_.wakeups_to_hang = wakeups_;
      phase_.report = text;
      phase_.stuck_waker = self;
      phase_.stuck_target = t;
      phase_.wake_list_bits = list;
      phase_.messages_now = msgs;
      phase_.missed_read_messages = missed ? d.miss.messages : 0;
      phase_.message_landed_late = resched_set;
    } else if (!lost && slow_report_.empty()) {
      slow_report_ = text;
    }
    return lost;
  }

  const WakelistOptions o_;
  const KernelModel model_;
  const int64_t threshold_;
  std::vector<std::unique_ptr<std::string>> names_;
  std::vector<std::unique_ptr<Cpu>> cpus_;
  MemorySystem* sys_ = nullptr;
  absl::Time start_;
  int64_t stop_after_ = 0;
  int64_t wakeups_ = 0;
  int64_t ipis_ = 0;
  int64_t slow_ = 0;
  std::string slow_report_;
  WakelistPhase phase_;
};

}  // namespace

absl::Status ValidateWakelistOptions(const WakelistOptions& o) {
  if (o.mode != OrderingMode::kEmulatedPower) {
    return absl::InvalidArgumentError(
        "muxed-ipi-wakelist: mode=native cannot show this bug on x86: it "
        "needs the waker's wake_list store to become visible after its "
        "message store (store->store), the receiver's wake_list load to be "
        "satisfied before its message read (load->load) or the message "
        "store to pass the IPI, and x86-TSO forbids all three; use "
        "mode=emulated-power");
  }
  if (o.num_cpus < 2 || o.num_cpus > kMaxCpus) {
    return absl::InvalidArgumentError(absl::StrCat(
        "muxed-ipi-wakelist: cpus=", o.num_cpus, " is out of range; use 2..",
        kMaxCpus, " (the wake_list is a bitmask of wakers)"));
  }
  if (o.buggy_budget <= absl::ZeroDuration() ||
      o.fixed_budget <= absl::ZeroDuration() ||
      o.buggy_budget == absl::InfiniteDuration() ||
      o.fixed_budget == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        "muxed-ipi-wakelist: buggy_budget and fixed_budget must be positive "
        "finite durations, e.g. 30s");
  }
  if (o.fixed_wakeups < 0 || o.threshold_ticks < 0 || o.ttwu_relax < 0 ||
      o.work_relax < 0) {
    return absl::InvalidArgumentError(
        "muxed-ipi-wakelist: fixed_wakeups, threshold_ticks, ttwu_relax and "
        "work_relax must be >= 0 (0 = default for fixed_wakeups: budget "
        "only; for threshold_ticks: 200000 + 50000 per CPU beyond 4)");
  }
  return absl::OkStatus();
}

absl::StatusOr<WakelistPhase> RunWakelistPhase(const WakelistOptions& options,
                                               const KernelModel& model,
                                               absl::Duration budget,
                                               int64_t stop_after_wakeups) {
  absl::Status valid = ValidateWakelistOptions(options);
  if (!valid.ok()) return valid;
  const int64_t threshold = options.threshold_ticks > 0
                                ? options.threshold_ticks
                                : DefaultThreshold(options.num_cpus);
  Sim sim(options, model, threshold);
  return sim.Run(budget, stop_after_wakeups);
}

namespace {
ReproductionPhase ToPhase(const WakelistPhase& p) {
  ReproductionPhase r;
  r.ran = true;
  r.kernel_model = absl::StrCat(p.kernel_model, " (", p.sites, ")");
  r.hung = p.hung;
  r.seconds = p.seconds;
  r.seconds_to_hang = p.seconds_to_hang;
  r.operations = p.wakeups;
  r.operations_to_hang = p.wakeups_to_hang;
  r.hangs = p.hung ? 1 : 0;
  r.slow = p.slow;
  r.report = p.report;
  return r;
}
}  // namespace

absl::StatusOr<kvmbed::Reproduction> ReproduceMuxedIpiWakelist(
    const WakelistOptions& options) {
  absl::Status valid = ValidateWakelistOptions(options);
  if (!valid.ok()) return valid;
  kvmbed::Reproduction r;
  r.name = "muxed-ipi-wakelist";
  r.commit = "9fb1b36ca1";
  r.bug =
      "powerpc muxed IPIs: the rq->wake_list update is not ordered with "
      "ipi_message, the receiver's scheduler_ipi() finds the list empty and "
      "the woken task sticks in TASK_WAKING";
  r.fix =
      "smp_mb() before the message store in smp_muxed_ipi_message_pass(), "
      "xchg() instead of xchg_local() in smp_ipi_demux(), and a full barrier "
      "in every cause_ipi()";
  r.unit = "wake-ups";
  const int64_t threshold = options.threshold_ticks > 0
                                ? options.threshold_ticks
                                : DefaultThreshold(options.num_cpus);
  r.notes.push_back(absl::StrFormat(
      "emulated-power, %d CPUs (each wakes tasks on the others), seed %d, "
      "hung-task threshold %d virtual ticks",
      options.num_cpus, options.seed, threshold));
  if (!options.skip_buggy) {
    absl::StatusOr<WakelistPhase> b = RunWakelistPhase(
        options, options.buggy_model, options.buggy_budget, 0);
    if (!b.ok()) return b.status();
    r.buggy = ToPhase(*b);
  }
  if (!options.skip_fixed) {
    absl::StatusOr<WakelistPhase> f =
        RunWakelistPhase(options, options.fixed_model, options.fixed_budget,
                         options.fixed_wakeups);
    if (!f.ok()) return f.status();
    r.fixed = ToPhase(*f);
    if (options.fixed_wakeups > 0 && f->wakeups < options.fixed_wakeups &&
        !f->hung) {
      r.notes.push_back(absl::StrFormat(
          "the fixed phase reached only %d of %d wake-ups within its budget",
          f->wakeups, options.fixed_wakeups));
    }
  }
  return r;
}

absl::StatusOr<WakelistBench> RunWakelistBench(const WakelistOptions& options,
                                               int runs) {
  if (runs < 1) {
    return absl::InvalidArgumentError("muxed-ipi-wakelist bench: runs must be >= 1");
  }
  WakelistBench bench;
  bench.runs = runs;
  std::vector<double> seconds, wakeups;
  double total_wakeups = 0, total_seconds = 0;
  for (int i = 1; i <= runs; ++i) {
    WakelistOptions o = options;
    o.seed = static_cast<uint64_t>(i);
    absl::StatusOr<WakelistPhase> p =
        RunWakelistPhase(o, o.buggy_model, o.buggy_budget, 0);
    if (!p.ok()) return p.status();
    total_wakeups += static_cast<double>(p->wakeups);
    total_seconds += p->seconds;
    if (!p->hung) continue;
    ++bench.reproduced;
    seconds.push_back(p->seconds_to_hang);
    wakeups.push_back(static_cast<double>(p->wakeups_to_hang));
  }
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  };
  bench.median_seconds_to_hang = median(seconds);
  bench.median_wakeups_to_hang = median(wakeups);
  bench.buggy_wakeups_per_second =
      total_seconds > 0 ? total_wakeups / total_seconds : 0;
  absl::StatusOr<WakelistPhase> f = RunWakelistPhase(
      options, options.fixed_model, options.fixed_budget, options.fixed_wakeups);
  if (!f.ok()) return f.status();
  bench.fixed_wakeups = f->wakeups;
  bench.fixed_wakeups_per_second = f->seconds > 0 ? f->wakeups / f->seconds : 0;
  bench.fixed_hangs = f->hung ? 1 : 0;
  return bench;
}

std::string RenderWakelistBench(const WakelistOptions& o,
                                const WakelistBench& b) {
  return absl::StrFormat(
      "muxed-ipi-wakelist bench (emulated-power, %d CPUs, buggy %s, fixed "
      "%s)\n"
      "  buggy: reproduced %d/%d (seeds 1..%d), median %.3f s and %.0f "
      "wake-ups to the stuck task, %.0f wake-ups/s\n"
      "  fixed: %d wake-ups, %.0f wake-ups/s, %d stuck\n",
      o.num_cpus, o.buggy_model.ToString(), o.fixed_model.ToString(), b.reproduced, b.runs, b.runs,
      b.median_seconds_to_hang, b.median_wakeups_to_hang,
      b.buggy_wakeups_per_second, b.fixed_wakeups, b.fixed_wakeups_per_second,
      b.fixed_hangs);
}

}  // namespace hostipi
}  // namespace kvmbed
