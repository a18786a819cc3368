// The host-IPI protocol as a program for the POWER explorer
// (explore_host_ipi.h).
#include "hostipi/explore_host_ipi.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "hostipi/host_ipi.h"

namespace kvmbed {
namespace hostipi {

namespace {

using power::Cond;
using power::Instr;
using power::InstrKind;

// Registers.
constexpr int kRegMessage = 0;  // sender: the chosen message; target: host_ipi
constexpr int kRegCallFunction = 1;
constexpr int kRegReschedule = 2;
constexpr int kRegQueue = 3;
constexpr int kRegs = 4;
// Ghost slots.
constexpr int kGhostIgnored = 0;  // target: its last doorbell was ignored

// Message values the sender chooses between.
constexpr int64_t kChooseCallFunction = 1;
constexpr int64_t kChooseReschedule = 2;

// A tiny assembler with forward labels.
class Asm {
 public:
  int Here() const { return static_cast<int>(code_.size()); }
  int NewLabel() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void Bind(int label) { labels_[label] = Here(); }
  void Emit(Instr in) { code_.push_back(std::move(in)); }
  // A branch to a label, fixed up in Finish().
  void Branch(Cond cond, int reg, int64_t value, int label, std::string text) {
    Instr in;
    in.kind = InstrKind::kBranch;
    in.cond = cond;
    in.reg = reg;
    in.value = value;
    in.target = -1 - label;
    in.text = std::move(text);
    code_.push_back(std::move(in));
  }
  void Jump(int label, std::string text) { Branch(Cond::kAlways, -1, 0, label, std::move(text)); }
  std::vector<Instr> Finish() {
    for (Instr& in : code_) {
      if (in.kind == InstrKind::kBranch && in.target < 0) in.target = labels_[-1 - in.target];
    }
    return std::move(code_);
  }

 private:
  std::vector<Instr> code_;
  std::vector<int> labels_;
};

Instr Load(int loc, int reg, std::string text) {
  Instr in;
  in.kind = InstrKind::kLoad;
  in.loc = loc;
  in.reg = reg;
  in.text = std::move(text);
  return in;
}
Instr SpinUntil(int loc, int reg, int64_t value, std::string text) {
  Instr in = Load(loc, reg, std::move(text));
  in.spin = true;
  in.cond = Cond::kEq;
  in.value = value;
  return in;
}
Instr Store(int loc, int64_t value, std::string text) {
  Instr in;
  in.kind = InstrKind::kStore;
  in.loc = loc;
  in.value = value;
  in.text = std::move(text);
  return in;
}
Instr Rmw(int loc, power::RmwOp op, int64_t value, int reg, std::string text) {
  Instr in;
  in.kind = InstrKind::kRmw;
  in.loc = loc;
  in.rmw = op;
  in.value = value;
  in.reg = reg;
  in.text = std::move(text);
  return in;
}
Instr Simple(InstrKind kind, std::string text) {
  Instr in;
  in.kind = kind;
  in.text = std::move(text);
  return in;
}
Instr Ghost(int slot, int64_t value, std::string text) {
  Instr in = Simple(InstrKind::kGhost, std::move(text));
  in.value = slot;
  in.value2 = value;
  return in;
}

int MessageLocation(int message) {
  return message == kCallFunction ? kLocMessageCallFunction : kLocMessageReschedule;
}

void MessagePass(Asm& a, const KernelModel& m, int target, int message) {
  if (m.message_pass_mb) {
    a.Emit(Simple(InstrKind::kSync, "smp_muxed_ipi_set_message(): smp_mb()"));
  }
  a.Emit(Store(MessageLocation(message), 1,
               absl::StrCat("message[", IpiMessageName(message), "] = 1 (to ", target, ")")));
  if (m.mb_before_set) a.Emit(Simple(InstrKind::kSync, "kvmppc_set_host_ipi(): smp_mb()"));
  a.Emit(Store(kLocHostIpi, 1, absl::StrCat("kvmppc_set_host_ipi(", target, ", 1)")));
  a.Emit(Simple(InstrKind::kSync, "ppc_msgsnd_sync()/smp_mb()"));
  Instr snd = Simple(InstrKind::kMsgsnd, absl::StrCat("ppc_msgsnd() -> ", target));
  snd.value = target;
  a.Emit(std::move(snd));
}

std::vector<Instr> Sender(const HostIpiExploreOptions& o, int self, int target) {
  Asm a;
  const int csd = kLocCsdFlags0 + self;
  const int n = o.sequence.empty() ? o.ipis : static_cast<int>(o.sequence.size());
  for (int k = 0; k < n; ++k) {
    const int rs = a.NewLabel(), wait = a.NewLabel(), next = a.NewLabel();
    Instr choose = Simple(InstrKind::kChoose, absl::StrCat("IPI #", k + 1, " to ", target,
                                                           " (1 = CALL_FUNCTION, 2 = RESCHEDULE)"));
    choose.reg = kRegMessage;
    if (o.sequence.empty()) {
      choose.choices = {kChooseCallFunction, kChooseReschedule};
    } else {
      choose.choices = {o.sequence[k] == kCallFunction ? kChooseCallFunction : kChooseReschedule};
    }
    a.Emit(std::move(choose));
    a.Branch(Cond::kEq, kRegMessage, kChooseReschedule, rs, "RESCHEDULE?");
    a.Emit(SpinUntil(csd, kRegQueue, 0, absl::StrCat("csd_lock(): csd_lock_wait(csd[", self, "->", target, "])")));
    a.Emit(Simple(InstrKind::kLwsync, "csd_lock_wait(): acquire (lwsync)"));
    a.Emit(Store(csd, 1, absl::StrCat("csd[", self, "->", target, "].flags |= CSD_FLAG_LOCK")));
    a.Emit(Simple(InstrKind::kLwsync, "csd_lock(): smp_wmb() (lwsync)"));
    a.Emit(Simple(InstrKind::kSync, "llist_add(): sync"));
    a.Emit(Rmw(kLocCallSingleQueue, power::RmwOp::kOr, int64_t{1} << self, kRegCallFunction,
               absl::StrCat("llist_add(csd[", self, "->", target, "], call_single_queue[", target, "])")));
    a.Emit(Simple(InstrKind::kSync, "llist_add(): sync"));
    a.Branch(Cond::kNe, kRegCallFunction, 0, wait, "queue was not empty: no IPI");
    MessagePass(a, o.model, target, kCallFunction);
    a.Jump(wait, "");
    a.Bind(rs);
    MessagePass(a, o.model, target, kReschedule);
    a.Jump(next, "");
    a.Bind(wait);
    a.Emit(SpinUntil(csd, kRegQueue, 0, absl::StrCat("csd_lock_wait(csd[", self, "->", target, "]) done")));
    a.Emit(Simple(InstrKind::kLwsync, "csd_lock_wait(): acquire (lwsync)"));
    a.Bind(next);
  }
  return a.Finish();
}

std::vector<Instr> Target(const HostIpiExploreOptions& o, int self, int senders) {
  const KernelModel& m = o.model;
  Asm a;
  const int guest = a.NewLabel(), ignored = a.NewLabel(), demux = a.NewLabel(), take = a.NewLabel(),
            after_cf = a.NewLabel();
  a.Bind(guest);
  a.Emit(Simple(InstrKind::kAwaitDoorbell, "doorbell exit from the guest"));
  a.Emit(Simple(InstrKind::kLwsync, "ppc_msgsync() (lwsync)"));
  a.Emit(Load(kLocHostIpi, kRegMessage, "read kvm_hstate.host_ipi"));
  a.Branch(Cond::kEq, kRegMessage, 0, ignored, "host_ipi == 0?");
  a.Emit(Ghost(kGhostIgnored, 0, "host_ipi == 1 -> host: doorbell_exception()"));
  a.Emit(Store(kLocHostIpi, 0, absl::StrCat("kvmppc_clear_host_ipi(", self, ")")));
  if (m.mb_after_clear) a.Emit(Simple(InstrKind::kSync, "kvmppc_clear_host_ipi(): smp_mb()"));
  a.Bind(demux);
  if (m.demux == DemuxRead::kPeek) {
    a.Emit(Load(kLocMessageCallFunction, kRegCallFunction, "smp_ipi_demux(): peek message[CALL_FUNCTION]"));
    a.Emit(Load(kLocMessageReschedule, kRegReschedule, "smp_ipi_demux(): peek message[RESCHEDULE]"));
    a.Branch(Cond::kNe, kRegCallFunction, 0, take, "");
    a.Branch(Cond::kEq, kRegReschedule, 0, guest, "no message: enter guest");
  }
  a.Bind(take);
  const bool ordered = m.demux != DemuxRead::kXchgRelaxed;
  if (ordered) a.Emit(Simple(InstrKind::kSync, "xchg(): sync"));
  a.Emit(Rmw(kLocMessageCallFunction, power::RmwOp::kExchange, 0, kRegCallFunction,
             "smp_ipi_demux(): xchg message[CALL_FUNCTION]"));
  a.Emit(Rmw(kLocMessageReschedule, power::RmwOp::kExchange, 0, kRegReschedule,
             "smp_ipi_demux(): xchg message[RESCHEDULE]"));
  if (ordered) a.Emit(Simple(InstrKind::kSync, "xchg(): sync"));
  a.Branch(Cond::kEq, kRegCallFunction, 0, after_cf, "");
  a.Emit(Simple(InstrKind::kSync, "llist_del_all(): sync"));
  a.Emit(Rmw(kLocCallSingleQueue, power::RmwOp::kExchange, 0, kRegQueue,
             absl::StrCat("llist_del_all(call_single_queue[", self, "])")));
  a.Emit(Simple(InstrKind::kSync, "llist_del_all(): sync"));
  for (int s = 0; s < senders; ++s) {
    const int skip = a.NewLabel();
    a.Branch(Cond::kBitClear, kRegQueue, int64_t{1} << s, skip, "");
    a.Emit(Simple(InstrKind::kLwsync, "csd_unlock(): smp_store_release (lwsync)"));
    a.Emit(Store(kLocCsdFlags0 + s, 0, absl::StrCat("csd_unlock(csd[", s, "->", self, "])")));
    a.Bind(skip);
  }
  a.Bind(after_cf);
  a.Emit(Load(kLocMessageCallFunction, kRegCallFunction, "while (info->messages): message[CALL_FUNCTION]"));
  a.Emit(Load(kLocMessageReschedule, kRegReschedule, "while (info->messages): message[RESCHEDULE]"));
  a.Branch(Cond::kNe, kRegCallFunction, 0, demux, "");
  a.Branch(Cond::kNe, kRegReschedule, 0, demux, "");
  a.Jump(guest, "enter guest");
  a.Bind(ignored);
  a.Emit(Ghost(kGhostIgnored, 1, "host_ipi == 0: doorbell taken as the guest's // IPI IGNORED"));
  a.Jump(guest, "enter guest");
  return a.Finish();
}

std::string SequenceText(const std::vector<int>& seq) {
  std::string out;
  for (int m : seq) absl::StrAppend(&out, out.empty() ? "" : ",", IpiMessageName(m));
  return out;
}

std::string ModelLine(const KernelModel& m) {
  return absl::StrCat(m.ToString(), " (", m.Describe(), ")");
}

}  // namespace

absl::StatusOr<std::vector<int>> ParseMessageSequence(const std::string& text) {
  std::vector<int> out;
  for (absl::string_view m : absl::StrSplit(text, ',')) {
    if (m == "cf" || m == "CALL_FUNCTION") {
      out.push_back(kCallFunction);
    } else if (m == "rs" || m == "RESCHEDULE") {
      out.push_back(kReschedule);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("message '", m, "' is unknown; write rs (RESCHEDULE) or cf (CALL_FUNCTION), e.g. rs,rs,cf"));
    }
  }
  if (out.empty() || out.size() > 4) {
    return absl::InvalidArgumentError("give 1..4 messages, e.g. rs,rs,cf");
  }
  return out;
}

absl::StatusOr<power::Program> BuildHostIpiProgram(const HostIpiExploreOptions& o) {
  if (o.cpus < 2 || o.cpus > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpus = ", o.cpus, ": the explorer models 2..4 CPUs (senders and one target)"));
  }
  if (!o.sequence.empty() && o.sequence.size() > 4) {
    return absl::InvalidArgumentError("give 1..4 messages per sender");
  }
  if (o.sequence.empty() && (o.ipis < 1 || o.ipis > 4)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bound = ", o.ipis, ": give 1..4 IPIs per sender"));
  }
  if (o.window < 1 || o.window > 32) {
    return absl::InvalidArgumentError(absl::StrCat("window = ", o.window, ": give 1..32"));
  }
  const int senders = o.cpus - 1;
  const int target = o.cpus - 1;
  power::Program p;
  p.registers = kRegs;
  p.ghosts = 1;
  p.locations = {absl::StrCat("host_ipi[", target, "]"),
                 absl::StrCat("ipi_message[", target, "].CALL_FUNCTION"),
                 absl::StrCat("ipi_message[", target, "].RESCHEDULE"),
                 absl::StrCat("call_single_queue[", target, "]")};
  for (int s = 0; s < senders; ++s) p.locations.push_back(absl::StrCat("csd[", s, "->", target, "].flags"));
  p.initial.assign(p.locations.size(), 0);
  for (int s = 0; s < senders; ++s) p.threads.push_back(Sender(o, s, target));
  p.threads.push_back(Target(o, target, senders));
  if (absl::Status st = power::ValidateProgram(p); !st.ok()) return st;
  return p;
}

bool IsLostHostIpi(const power::Program& p, const power::StateView& v) {
  const int target = static_cast<int>(p.threads.size()) - 1;
  if (v.Ghost(target, kGhostIgnored) != 1 || v.DoorbellPending(target)) return false;
  // In its guest: waiting for a doorbell, nothing else in flight.
  const int pending = v.OldestPending(target);
  if (pending < 0 || p.threads[target][pending].kind != InstrKind::kAwaitDoorbell ||
      v.InFlight(target) != 1) {
    return false;
  }
  if (!v.Quiescent()) return false;
  if (v.Memory(kLocHostIpi) != 0 || v.Memory(kLocMessageCallFunction) == 0) return false;
  const int64_t queue = v.Memory(kLocCallSingleQueue);
  bool waiter = false;
  for (int s = 0; s < target; ++s) {
    if (v.Finished(s)) continue;
    const int pc = v.OldestPending(s);
    if (pc < 0) return false;
    const Instr& in = p.threads[s][pc];
    if (in.kind != InstrKind::kLoad || !in.spin ||
        power::CondHolds(in.cond, v.Memory(in.loc), in.value)) {
      return false;  // it can still run
    }
    if (in.loc == kLocCsdFlags0 + s && (queue & (int64_t{1} << s))) waiter = true;
  }
  return waiter;
}

absl::StatusOr<HostIpiExploreResult> ExploreLostHostIpi(const HostIpiExploreOptions& o) {
  absl::StatusOr<power::Program> p = BuildHostIpiProgram(o);
  if (!p.ok()) return p.status();
  power::ExploreOptions eo;
  eo.window = o.window;
  eo.max_states = o.max_states;
  eo.time_budget = o.time_budget;
  const power::Program& prog = *p;
  eo.goal = [&prog](const power::StateView& v) { return IsLostHostIpi(prog, v); };
  // Depth first decides in little memory; only a reachable loss needs the
  // breadth-first search again, for its shortest trace.
  eo.depth_first = o.decide_depth_first;
  eo.want_trace = !o.decide_depth_first;
  absl::StatusOr<power::ExploreResult> e = power::Explore(prog, eo);
  if (!e.ok()) return e.status();
  if (e->goal_reached && o.decide_depth_first) {
    eo.depth_first = false;
    eo.want_trace = true;
    e = power::Explore(prog, eo);
    if (!e.ok()) return e.status();
  }
  HostIpiExploreResult r;
  r.options = o;
  r.lost = e->goal_reached;
  r.complete = e->complete;
  r.explore = std::move(*e);
  if (!r.lost) return r;

  const int target = o.cpus - 1;
  StallReport& rep = r.report;
  rep.kind = StallReport::Kind::kDetected;
  rep.number = 1;
  rep.target_cpu = target;
  rep.waiter_cpu = 0;
  rep.clock_unit = "steps";
  rep.waited_ns = static_cast<int64_t>(r.explore.trace.size());
  rep.func = CsdFuncName(kDoNothing);
  rep.activity = TargetActivity::kNothing;
  rep.facts = {
      {"found by", absl::StrCat("exhaustive exploration of the POWER model (breadth first: no "
                                "shorter execution loses the IPI), ",
                                r.explore.states, " states")},
      {"target mode", "guest, no doorbell pending"},
      {"kvm_hstate.host_ipi now", "0"},
      {"ipi_message now", "CALL_FUNCTION"},
      {"call_single_queue now", "this csd still queued"},
      {"last doorbell in the guest", "host_ipi == 0 -> ignored while CALL_FUNCTION was set"},
      {"kernel model", ModelLine(o.model)},
      {"bound", o.sequence.empty()
                    ? absl::StrCat(o.cpus - 1, " sender(s) x ", o.ipis, " IPI(s), window ", o.window)
                    : absl::StrCat(o.cpus - 1, " sender(s) x ", SequenceText(o.sequence), ", window ",
                                   o.window)},
  };
  rep.verdict = StallVerdict::kLost;
  rep.verdict_reason = absl::StrCat(
      "every store and barrier has reached every CPU, CPU#", target,
      " is in its guest with no doorbell pending and host_ipi 0 while CALL_FUNCTION is set; "
      "no execution from here ever runs the queue");
  rep.trace.push_back("      step   CPU");
  int step = 0;
  for (const power::ExploreResult::Step& s : r.explore.trace) {
    ++step;
    rep.trace.push_back(absl::StrFormat("%10d %5d: %s", step, s.thread, s.text));
  }
  return r;
}

std::string RenderHostIpiExplore(const HostIpiExploreResult& r) {
  const HostIpiExploreOptions& o = r.options;
  std::string out = absl::StrCat(
      "explore lost-host-ipi: kernel model ", ModelLine(o.model), "\n", "  ", o.cpus - 1,
      " sender(s), 1 target (CPU ", o.cpus - 1, "), ",
      o.sequence.empty() ? absl::StrCat(o.ipis, " IPI(s) per sender (each RESCHEDULE or CALL_FUNCTION)")
                         : absl::StrCat("each sender sends ", SequenceText(o.sequence)),
      ", window ", o.window, "\n");
  const power::ExploreResult& e = r.explore;
  const double secs = absl::ToDoubleSeconds(e.wall_time);
  absl::StrAppendFormat(&out, "  %lld states, %lld transitions, %lld mispredicted branches cut, %.2f s (%.0f states/s)\n",
                        static_cast<long long>(e.states), static_cast<long long>(e.transitions),
                        static_cast<long long>(e.pruned), secs, secs > 0 ? e.states / secs : 0.0);
  if (r.lost) {
    absl::StrAppend(&out, "  LOST IPI reachable: shortest execution ", e.trace.size(), " steps\n\n",
                    FormatStallReport(r.report));
  } else if (r.complete) {
    absl::StrAppend(&out, "  no lost IPI in any execution up to this bound (every reachable state visited, ",
                    e.finals, " finished executions, deepest ", e.depth, " steps)\n");
  } else {
    absl::StrAppend(&out, "  INCONCLUSIVE: stopped (", e.stop_reason, ") before visiting every state\n");
  }
  return out;
}

}  // namespace hostipi
}  // namespace kvmbed
