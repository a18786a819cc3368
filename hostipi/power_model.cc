// The operational POWER model and its breadth-first explorer (power_model.h
// describes the model).
#include "hostipi/power_model.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kvmbed {
namespace hostipi {
namespace power {

namespace {

constexpr uint8_t kSat = 1;
constexpr uint8_t kCommitted = 2;
constexpr int kMaxWrites = 64;
constexpr int kMaxThreads = 16;
// A load that took its value from an uncommitted store earlier in its window
// records -(kForwardBase + distance back to that store).
constexpr int kForwardBase = 100;

}  // namespace

struct Slot {
  int16_t pc = 0;
  uint8_t flags = 0;
  uint8_t pred = 0;   // branch: predicted taken
  int16_t wsrc = -1;  // load: the write read (or forwarded marker)
  int16_t bid = -1;   // sync/lwsync: the barrier it became
  int64_t val = 0;
};

struct ThreadState {
  int16_t pc = 0;
  bool doorbell = false;
  std::vector<Slot> win;
  std::vector<int64_t> regs;
  std::vector<int64_t> ghosts;
};

struct Write {
  int16_t loc = 0;
  int16_t thread = -1;  // -1: initial value
  int64_t value = 0;
  uint32_t prop = 0;    // threads it reached
  uint64_t after = 0;   // writes coherence-after it
  uint64_t ob = 0;      // writes it must precede by a barrier: it reached
                        // some thread before a barrier that came before them
};

struct Barrier {
  int16_t thread = 0;
  bool sync = false;
  uint32_t prop = 0;
};

// A list entry: write id >= 0, barrier b as -(b+1).
struct State {
  std::vector<ThreadState> th;
  std::vector<Write> writes;
  std::vector<Barrier> barriers;
  std::vector<std::vector<int16_t>> lists;
  std::vector<std::pair<int16_t, int16_t>> rmw;  // (read, written)
  // Per thread: writes appended to its list so far, and those appended
  // before its latest barrier (they precede every write appended later).
  std::vector<uint64_t> seen, fenced;
};

bool CondHolds(Cond cond, int64_t v, int64_t c) {
  switch (cond) {
    case Cond::kAlways: return true;
    case Cond::kEq: return v == c;
    case Cond::kNe: return v != c;
    case Cond::kBitSet: return (v & c) != 0;
    case Cond::kBitClear: return (v & c) == 0;
  }
  return false;
}

namespace {

uint64_t Bit(int i) { return uint64_t{1} << i; }

bool WritesReg(const Instr& in) {
  return (in.kind == InstrKind::kLoad || in.kind == InstrKind::kRmw ||
          in.kind == InstrKind::kChoose) &&
         in.reg >= 0;
}
bool IsAccess(const Instr& in) {
  return in.kind == InstrKind::kLoad || in.kind == InstrKind::kStore ||
         in.kind == InstrKind::kRmw;
}
bool IsBranchLike(const Instr& in) {
  return (in.kind == InstrKind::kBranch && in.cond != Cond::kAlways) ||
         (in.kind == InstrKind::kLoad && in.spin);
}

// Everything the step functions need about one exploration.
class Machine {
 public:
  Machine(const Program& p, int window) : p_(p), window_(window) {
    all_ = static_cast<uint32_t>((uint64_t{1} << p.threads.size()) - 1);
  }

  State Initial() const {
    State s;
    const int n = static_cast<int>(p_.threads.size());
    s.th.resize(n);
    for (ThreadState& t : s.th) {
      t.regs.assign(p_.registers, 0);
      t.ghosts.assign(p_.ghosts, 0);
    }
    for (size_t l = 0; l < p_.locations.size(); ++l) {
      Write w;
      w.loc = static_cast<int16_t>(l);
      w.value = l < p_.initial.size() ? p_.initial[l] : 0;
      w.prop = all_;
      s.writes.push_back(w);
    }
    s.lists.resize(n);
    s.seen.assign(n, 0);
    s.fenced.assign(n, 0);
    return s;
  }

  const Instr& In(const State& s, int t, int i) const {
    return p_.threads[t][s.th[t].win[i].pc];
  }

  // The window slot that supplies register r to slot i (-1: the committed
  // register file).
  int SrcSlot(const State& s, int t, int i, int r) const {
    for (int j = i - 1; j >= 0; --j) {
      const Instr& in = In(s, t, j);
      if (WritesReg(in) && in.reg == r) return j;
    }
    return -1;
  }
  bool SlotValueKnown(const State& s, int t, int j) const {
    const Instr& in = In(s, t, j);
    const Slot& sl = s.th[t].win[j];
    if (in.kind == InstrKind::kLoad) return sl.flags & kSat;
    if (in.kind == InstrKind::kRmw) return sl.flags & kCommitted;
    return true;  // choose
  }
  bool RegKnown(const State& s, int t, int i, int r, int64_t* v) const {
    int j = SrcSlot(s, t, i, r);
    if (j < 0) {
      *v = s.th[t].regs[r];
      return true;
    }
    if (!SlotValueKnown(s, t, j)) return false;
    *v = s.th[t].win[j].val;
    return true;
  }
  bool RegCommitted(const State& s, int t, int i, int r) const {
    int j = SrcSlot(s, t, i, r);
    return j < 0 || (s.th[t].win[j].flags & kCommitted);
  }
  bool DepsKnown(const State& s, int t, int i, const std::vector<int>& regs) const {
    int64_t v;
    for (int r : regs) {
      if (!RegKnown(s, t, i, r, &v)) return false;
    }
    return true;
  }
  bool DepsCommitted(const State& s, int t, int i, const std::vector<int>& regs) const {
    for (int r : regs) {
      if (!RegCommitted(s, t, i, r)) return false;
    }
    return true;
  }
  bool DataCommitted(const State& s, int t, int i) const {
    const Instr& in = In(s, t, i);
    if (in.value_reg >= 0 && !RegCommitted(s, t, i, in.value_reg)) return false;
    return DepsCommitted(s, t, i, in.data_deps);
  }

  bool Acked(const State& s, int bid) const { return s.barriers[bid].prop == all_; }

  // Slot j is an earlier barrier that blocks later loads from being satisfied.
  bool BlocksLoads(const State& s, int t, int j) const {
    const Instr& in = In(s, t, j);
    const Slot& sl = s.th[t].win[j];
    switch (in.kind) {
      case InstrKind::kSync:
        return !(sl.flags & kCommitted) || !Acked(s, sl.bid);
      case InstrKind::kLwsync:
      case InstrKind::kIsync:
      case InstrKind::kAwaitDoorbell:
        return !(sl.flags & kCommitted);
      default:
        return false;
    }
  }

  // Conditions every earlier slot must meet before slot i (a store or RMW)
  // commits.
  bool EarlierAllowStoreCommit(const State& s, int t, int i, int loc) const {
    for (int j = 0; j < i; ++j) {
      const Instr& in = In(s, t, j);
      const Slot& sl = s.th[t].win[j];
      const bool committed = sl.flags & kCommitted;
      if (IsBranchLike(in) && !committed) return false;
      if (BlocksLoads(s, t, j)) return false;
      if (in.kind == InstrKind::kMsgsnd && !committed) return false;
      if (IsAccess(in)) {
        if (!DepsCommitted(s, t, j, in.addr_deps)) return false;
        if (in.loc == loc && !committed) return false;
      }
    }
    return true;
  }

  bool AllEarlierCommitted(const State& s, int t, int i) const {
    for (int j = 0; j < i; ++j) {
      const Slot& sl = s.th[t].win[j];
      if (!(sl.flags & kCommitted)) return false;
      if (In(s, t, j).kind == InstrKind::kSync && !Acked(s, sl.bid)) return false;
    }
    return true;
  }

  int Visible(const State& s, int t, int loc) const {
    const uint32_t tb = 1u << t;
    int best = -1;
    for (size_t w = 0; w < s.writes.size(); ++w) {
      const Write& x = s.writes[w];
      if (x.loc != loc || !(x.prop & tb)) continue;
      if (best < 0 || (s.writes[best].after & Bit(static_cast<int>(w)))) best = static_cast<int>(w);
    }
    return best;
  }

  // Orders a before b in coherence (and closes over RMW pairs). False on a
  // cycle.
  bool AddEdge(State& s, int a, int b) const {
    if (a == b || (s.writes[b].after & Bit(a))) return false;
    if (s.writes[a].after & Bit(b)) return true;
    const uint64_t add = Bit(b) | s.writes[b].after;
    for (size_t x = 0; x < s.writes.size(); ++x) {
      if (static_cast<int>(x) == a || (s.writes[x].after & Bit(a))) s.writes[x].after |= add;
    }
    for (size_t x = 0; x < s.writes.size(); ++x) {
      if (s.writes[x].after & Bit(static_cast<int>(x))) return false;
    }
    return true;
  }
  bool CloseRmw(State& s) const {
    bool changed = true;
    while (changed) {
      changed = false;
      for (auto [r, rw] : s.rmw) {
        for (size_t w2 = 0; w2 < s.writes.size(); ++w2) {
          const int w = static_cast<int>(w2);
          if (s.writes[w].loc != s.writes[r].loc) continue;
          if (w != rw && (s.writes[r].after & Bit(w)) && !(s.writes[rw].after & Bit(w))) {
            if (!AddEdge(s, rw, w)) return false;
            changed = true;
          }
          if (w != r && (s.writes[w].after & Bit(rw)) && !(s.writes[w].after & Bit(r))) {
            if (!AddEdge(s, w, r)) return false;
            changed = true;
          }
        }
      }
    }
    return true;
  }

  // Coherence and barrier order together must stay acyclic (a write ordered
  // before another by a barrier may not be coherence-after it, directly or
  // through other writes).
  bool Acyclic(const State& s) const {
    const int n = static_cast<int>(s.writes.size());
    uint64_t reach[kMaxWrites];
    for (int i = 0; i < n; ++i) reach[i] = s.writes[i].after | s.writes[i].ob;
    for (bool changed = true; changed;) {
      changed = false;
      for (int i = 0; i < n; ++i) {
        uint64_t r = reach[i];
        for (uint64_t m = reach[i]; m; m &= m - 1) r |= reach[__builtin_ctzll(m)];
        if (r != reach[i]) {
          reach[i] = r;
          changed = true;
        }
      }
    }
    for (int i = 0; i < n; ++i) {
      if (reach[i] & Bit(i)) return false;
    }
    return true;
  }

  // Write w becomes visible on thread t. A write of t's own comes after
  // every barrier already in t's list, so everything that reached t before
  // such a barrier is ordered before it (the barrier's A-cumulativity).
  void AppendWrite(State& s, int t, int w, bool own) const {
    if (own) {
      for (uint64_t m = s.fenced[t]; m; m &= m - 1) s.writes[__builtin_ctzll(m)].ob |= Bit(w);
    }
    s.seen[t] |= Bit(w);
    s.lists[t].push_back(static_cast<int16_t>(w));
  }
  void AppendBarrier(State& s, int t, int b) const {
    s.fenced[t] = s.seen[t];
    s.lists[t].push_back(static_cast<int16_t>(-(b + 1)));
  }

  // A new write by thread t, coherence-after everything t has of loc.
  int NewWrite(State& s, int t, int loc, int64_t value) const {
    Write w;
    w.loc = static_cast<int16_t>(loc);
    w.thread = static_cast<int16_t>(t);
    w.value = value;
    const int id = static_cast<int>(s.writes.size());
    if (id >= kMaxWrites) return -1;
    s.writes.push_back(w);
    for (int x = 0; x < id; ++x) {
      if (s.writes[x].loc == loc && (s.writes[x].prop & (1u << t))) AddEdge(s, x, id);
    }
    s.writes[id].prop = 1u << t;
    AppendWrite(s, t, id, /*own=*/true);
    return id;
  }

  void Restart(State& s, int t, int k) const {
    Slot& sl = s.th[t].win[k];
    sl.flags &= ~kSat;
    sl.wsrc = -1;
    sl.val = 0;
    const Instr& ink = In(s, t, k);
    for (size_t m = k + 1; m < s.th[t].win.size(); ++m) {
      const Instr& in = In(s, t, static_cast<int>(m));
      if (in.kind != InstrKind::kLoad || !(s.th[t].win[m].flags & kSat)) continue;
      bool dep = false;
      for (int r : in.addr_deps) dep |= SrcSlot(s, t, static_cast<int>(m), r) == k;
      // A load forwarded from a store whose address or data came from k.
      const int ws = s.th[t].win[m].wsrc;
      if (!dep && ws <= -kForwardBase) {
        const int f = static_cast<int>(m) - (-ws - kForwardBase);
        if (f > k) {
          const Instr& st = In(s, t, f);
          for (int r : st.addr_deps) dep |= SrcSlot(s, t, f, r) == k;
          for (int r : st.data_deps) dep |= SrcSlot(s, t, f, r) == k;
          if (st.value_reg >= 0) dep |= SrcSlot(s, t, f, st.value_reg) == k;
        }
      }
      if (dep && WritesReg(ink)) Restart(s, t, static_cast<int>(m));
    }
  }

  // Satisfies load i of thread t. False if it cannot be satisfied now.
  bool Satisfy(State& s, int t, int i, std::string* label) const {
    ThreadState& th = s.th[t];
    const Instr& in = In(s, t, i);
    if (!DepsKnown(s, t, i, in.addr_deps)) return false;
    int fwd = -1;
    for (int j = 0; j < i; ++j) {
      if (BlocksLoads(s, t, j)) return false;
      const Instr& ij = In(s, t, j);
      if ((ij.kind == InstrKind::kStore || ij.kind == InstrKind::kRmw) && ij.loc == in.loc) fwd = j;
    }
    // Until the newest earlier store's address is known the load cannot
    // tell whether it reads from it: it waits (on hardware it would be
    // satisfied and restarted once the address turned out the same).
    if (fwd >= 0 && !DepsKnown(s, t, fwd, In(s, t, fwd).addr_deps)) return false;
    int64_t value;
    int16_t wsrc;
    if (fwd >= 0 && !(th.win[fwd].flags & kCommitted)) {
      const Instr& st = In(s, t, fwd);
      if (st.kind == InstrKind::kRmw) return false;
      if (st.value_reg >= 0) {
        if (!RegKnown(s, t, fwd, st.value_reg, &value)) return false;
      } else {
        value = st.value;
      }
      if (!DepsKnown(s, t, fwd, st.data_deps)) return false;
      wsrc = static_cast<int16_t>(-(kForwardBase + (i - fwd)));
    } else {
      const int w = Visible(s, t, in.loc);
      value = s.writes[w].value;
      wsrc = static_cast<int16_t>(w);
    }
    if (in.spin && !CondHolds(in.cond, value, in.value)) return false;
    th.win[i].flags |= kSat;
    th.win[i].val = value;
    th.win[i].wsrc = wsrc;
    // Later loads of the same location that read a different write restart.
    const int my_src = wsrc >= 0 ? wsrc : -1000 - (i - (-wsrc - kForwardBase));
    for (size_t k = i + 1; k < th.win.size(); ++k) {
      const Instr& ik = In(s, t, static_cast<int>(k));
      if (ik.loc != in.loc && IsAccess(ik)) continue;
      if (ik.kind == InstrKind::kStore || ik.kind == InstrKind::kRmw) break;
      if (ik.kind != InstrKind::kLoad || !(th.win[k].flags & kSat)) continue;
      const int ws = th.win[k].wsrc;
      const int src = ws >= 0 ? ws : -1000 - (static_cast<int>(k) - (-ws - kForwardBase));
      if (src != my_src) Restart(s, t, static_cast<int>(k));
    }
    if (label) {
      *label = absl::StrCat(in.text, " reads ", value,
                            wsrc >= 0 ? "" : " (forwarded from its own earlier store)");
    }
    return true;
  }

  bool Commit(State& s, int t, int i, std::string* label) const {
    ThreadState& th = s.th[t];
    const Instr& in = In(s, t, i);
    Slot& sl = th.win[i];
    if (sl.flags & kCommitted) return false;
    switch (in.kind) {
      case InstrKind::kLoad: {
        if (!(sl.flags & kSat) || !DepsCommitted(s, t, i, in.addr_deps)) return false;
        for (int j = 0; j < i; ++j) {
          const Instr& ij = In(s, t, j);
          const bool c = th.win[j].flags & kCommitted;
          if (IsBranchLike(ij) && !c) return false;
          if (IsAccess(ij) && ij.loc == in.loc && !c) return false;
        }
        sl.flags |= kCommitted;
        sl.wsrc = -1;
        return true;
      }
      case InstrKind::kBranch: {
        if (!RegCommitted(s, t, i, in.reg)) return false;
        sl.flags |= kCommitted;
        return true;
      }
      case InstrKind::kIsync: {
        for (int j = 0; j < i; ++j) {
          const Instr& ij = In(s, t, j);
          if (IsBranchLike(ij) && !(th.win[j].flags & kCommitted)) return false;
          if (IsAccess(ij) && !DepsCommitted(s, t, j, ij.addr_deps)) return false;
        }
        sl.flags |= kCommitted;
        return true;
      }
      case InstrKind::kGhost: {
        if (!AllEarlierCommitted(s, t, i)) return false;
        th.ghosts[in.value] = in.value2;
        sl.flags |= kCommitted;
        if (label) *label = in.text;
        return true;
      }
      case InstrKind::kStore: {
        if (!DepsCommitted(s, t, i, in.addr_deps) || !DataCommitted(s, t, i)) return false;
        if (!EarlierAllowStoreCommit(s, t, i, in.loc)) return false;
        int64_t value = in.value;
        if (in.value_reg >= 0) RegKnown(s, t, i, in.value_reg, &value);
        const int w = NewWrite(s, t, in.loc, value);
        if (w < 0 || !Acyclic(s)) return false;
        sl.flags |= kCommitted;
        ResolveForwarded(s, t, i, w);
        if (label) *label = absl::StrCat(in.text, "   // COMMITTED: visible to CPU ", t, " only");
        return true;
      }
      case InstrKind::kRmw: {
        if (!DepsCommitted(s, t, i, in.addr_deps) || !DataCommitted(s, t, i)) return false;
        if (!EarlierAllowStoreCommit(s, t, i, in.loc)) return false;
        // It reads the newest write its thread has; writes already ordered
        // after that one go after its own write (CloseRmw), or the commit
        // is not possible now.
        const int r = Visible(s, t, in.loc);
        const int64_t old = s.writes[r].value;
        const int64_t nv = in.rmw == RmwOp::kExchange ? in.value : (old | in.value);
        const int w = NewWrite(s, t, in.loc, nv);
        if (w < 0) return false;
        if (!AddEdge(s, r, w)) return false;
        s.rmw.emplace_back(static_cast<int16_t>(r), static_cast<int16_t>(w));
        if (!CloseRmw(s) || !Acyclic(s)) return false;
        sl.flags |= kCommitted | kSat;
        sl.val = old;
        ResolveForwarded(s, t, i, w);
        if (label) *label = absl::StrCat(in.text, " -> ", old, " (wrote ", nv, ")");
        return true;
      }
      case InstrKind::kLwsync:
      case InstrKind::kSync: {
        if (!AllEarlierCommitted(s, t, i)) return false;
        Barrier b;
        b.thread = static_cast<int16_t>(t);
        b.sync = in.kind == InstrKind::kSync;
        b.prop = 1u << t;
        sl.bid = static_cast<int16_t>(s.barriers.size());
        s.barriers.push_back(b);
        AppendBarrier(s, t, sl.bid);
        sl.flags |= kCommitted;
        if (label) *label = in.text;
        return true;
      }
      case InstrKind::kMsgsnd: {
        if (!AllEarlierCommitted(s, t, i)) return false;
        s.th[in.value].doorbell = true;
        sl.flags |= kCommitted;
        if (label) *label = in.text;
        return true;
      }
      case InstrKind::kAwaitDoorbell: {
        if (!th.doorbell || !AllEarlierCommitted(s, t, i)) return false;
        th.doorbell = false;
        sl.flags |= kCommitted;
        if (label) *label = in.text;
        return true;
      }
      case InstrKind::kChoose:
        return false;
    }
    return false;
  }

  void ResolveForwarded(State& s, int t, int i, int w) const {
    ThreadState& th = s.th[t];
    for (size_t k = i + 1; k < th.win.size(); ++k) {
      Slot& sk = th.win[k];
      if (sk.wsrc < 0 && sk.wsrc != -1 && (-sk.wsrc - kForwardBase) == static_cast<int>(k) - i) {
        sk.wsrc = static_cast<int16_t>(w);
      }
    }
  }

  bool BarriersBeforeReached(const State& s, int origin, int16_t event, int to) const {
    const uint32_t tb = 1u << to;
    for (int16_t e : s.lists[origin]) {
      if (e == event) return true;
      if (e < 0 && !(s.barriers[-e - 1].prop & tb)) return false;
    }
    return true;
  }
  bool EverythingBeforeReached(const State& s, int origin, int16_t event, int to) const {
    const uint32_t tb = 1u << to;
    for (int16_t e : s.lists[origin]) {
      if (e == event) return true;
      if (e < 0 ? !(s.barriers[-e - 1].prop & tb) : !(s.writes[e].prop & tb)) return false;
    }
    return true;
  }

  // Write w reaches thread `to`. If its coherence order against the newest
  // write `to` has of its location is still open, `overwritten` chooses:
  // false = w goes after it and becomes what `to` reads; true = w goes just
  // before it and reaches `to` invisibly. False if not possible.
  bool PropagateWrite(State& s, int w, int to, bool overwritten) const {
    const Write& x = s.writes[w];
    if (x.prop & (1u << to)) return false;
    if (!BarriersBeforeReached(s, x.thread, static_cast<int16_t>(w), to)) return false;
    const int latest = Visible(s, to, x.loc);
    const bool before = s.writes[w].after & Bit(latest);
    const bool after = s.writes[latest].after & Bit(w);
    if (overwritten) {
      if (after) return false;
      if (!before && !AddEdge(s, w, latest)) return false;
    } else {
      if (before) return false;
      for (size_t y = 0; y < s.writes.size(); ++y) {
        if (static_cast<int>(y) == w) continue;
        if (s.writes[y].loc == x.loc && (s.writes[y].prop & (1u << to))) {
          if (!AddEdge(s, static_cast<int>(y), w)) return false;
        }
      }
      AppendWrite(s, to, w, /*own=*/false);
    }
    if (!CloseRmw(s) || !Acyclic(s)) return false;
    s.writes[w].prop |= 1u << to;
    return true;
  }

  bool PropagateBarrier(State& s, int b, int to) const {
    Barrier& x = s.barriers[b];
    if (x.prop & (1u << to)) return false;
    if (!EverythingBeforeReached(s, x.thread, static_cast<int16_t>(-(b + 1)), to)) return false;
    x.prop |= 1u << to;
    AppendBarrier(s, to, b);
    return true;
  }

  // Deterministic local steps: retire, fetch, commit what has no visible
  // effect. False if a branch prediction proved wrong (execution pruned).
  bool Normalize(State& s, std::vector<std::pair<int, std::string>>* notes = nullptr) const {
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t t = 0; t < s.th.size(); ++t) {
        ThreadState& th = s.th[t];
        const int ti = static_cast<int>(t);
        // Commit what is invisible to other threads.
        for (size_t i = 0; i < th.win.size(); ++i) {
          const Instr& in = In(s, ti, static_cast<int>(i));
          if (th.win[i].flags & kCommitted) continue;
          if (in.kind == InstrKind::kLoad || in.kind == InstrKind::kBranch ||
              in.kind == InstrKind::kIsync || in.kind == InstrKind::kGhost) {
            if (Commit(s, ti, static_cast<int>(i), nullptr)) {
              changed = true;
              if (notes && in.kind == InstrKind::kGhost) notes->emplace_back(ti, in.text);
            }
          }
        }
        // Mispredicted branches.
        for (size_t i = 0; i < th.win.size(); ++i) {
          const Instr& in = In(s, ti, static_cast<int>(i));
          if (in.kind != InstrKind::kBranch) continue;
          int64_t v;
          if (RegKnown(s, ti, static_cast<int>(i), in.reg, &v) &&
              CondHolds(in.cond, v, in.value) != (th.win[i].pred != 0)) {
            return false;
          }
        }
        // Retire.
        while (!th.win.empty()) {
          const Slot& h = th.win.front();
          const Instr& in = p_.threads[t][h.pc];
          if (!(h.flags & kCommitted)) break;
          if (in.kind == InstrKind::kSync && !Acked(s, h.bid)) break;
          if (WritesReg(in)) th.regs[in.reg] = h.val;
          th.win.erase(th.win.begin());
          changed = true;
        }
        // Fetch.
        int hops = 0;
        while (static_cast<int>(th.win.size()) < window_ &&
               th.pc < static_cast<int>(p_.threads[t].size())) {
          if (!th.win.empty()) {
            const Slot& last = th.win.back();
            if (p_.threads[t][last.pc].kind == InstrKind::kAwaitDoorbell &&
                !(last.flags & kCommitted)) {
              break;
            }
          }
          const Instr& in = p_.threads[t][th.pc];
          if (in.kind == InstrKind::kChoose) break;
          if (in.kind == InstrKind::kBranch) {
            if (in.cond == Cond::kAlways) {
              th.pc = static_cast<int16_t>(in.target);
              if (++hops > 1000) break;
              changed = true;
              continue;
            }
            const int n = static_cast<int>(th.win.size());
            int64_t v;
            if (!RegKnown(s, ti, n, in.reg, &v)) break;  // a guess: a transition
            const bool taken = CondHolds(in.cond, v, in.value);
            if (!RegCommitted(s, ti, n, in.reg)) {
              Slot sl;
              sl.pc = th.pc;
              sl.pred = taken;
              th.win.push_back(sl);
            }
            th.pc = static_cast<int16_t>(taken ? in.target : th.pc + 1);
            changed = true;
            continue;
          }
          Slot sl;
          sl.pc = th.pc;
          th.win.push_back(sl);
          ++th.pc;
          changed = true;
        }
      }
    }
    // Drop fully propagated events from the lists.
    for (auto& list : s.lists) {
      list.erase(std::remove_if(list.begin(), list.end(),
                                [&](int16_t e) {
                                  return e < 0 ? s.barriers[-e - 1].prop == all_
                                               : s.writes[e].prop == all_;
                                }),
                 list.end());
    }
    return true;
  }

  struct Succ {
    State state;
    int thread = -1;
    std::string label;
    std::vector<std::pair<int, std::string>> notes;  // ghost steps it implied
  };

  // Every successor of s, in a fixed order. Labels only if `labels`.
  void Successors(const State& s, bool labels, std::vector<Succ>* out, int64_t* pruned) const {
    out->clear();
    auto emit = [&](State&& n, int thread, std::string label) {
      Succ sc;
      if (!Normalize(n, labels ? &sc.notes : nullptr)) {
        ++*pruned;
        return;
      }
      sc.state = std::move(n);
      sc.thread = thread;
      sc.label = std::move(label);
      out->push_back(std::move(sc));
    };
    std::string label;
    std::string* lp = labels ? &label : nullptr;
    for (size_t t = 0; t < s.th.size(); ++t) {
      const int ti = static_cast<int>(t);
      const ThreadState& th = s.th[t];
      // A fetch that needs a guess or a choice.
      if (static_cast<int>(th.win.size()) < window_ &&
          th.pc < static_cast<int>(p_.threads[t].size())) {
        const Instr& in = p_.threads[t][th.pc];
        bool blocked = !th.win.empty() &&
                       p_.threads[t][th.win.back().pc].kind == InstrKind::kAwaitDoorbell &&
                       !(th.win.back().flags & kCommitted);
        if (!blocked && in.kind == InstrKind::kChoose) {
          for (int64_t c : in.choices) {
            State n = s;
            Slot sl;
            sl.pc = th.pc;
            sl.flags = kCommitted | kSat;
            sl.val = c;
            n.th[t].win.push_back(sl);
            ++n.th[t].pc;
            emit(std::move(n), ti, labels ? absl::StrCat(in.text, ": ", c) : "");
          }
        } else if (!blocked && in.kind == InstrKind::kBranch && in.cond != Cond::kAlways) {
          int64_t v;
          if (!RegKnown(s, ti, static_cast<int>(th.win.size()), in.reg, &v)) {
            for (int taken = 0; taken < 2; ++taken) {
              State n = s;
              Slot sl;
              sl.pc = th.pc;
              sl.pred = static_cast<uint8_t>(taken);
              n.th[t].win.push_back(sl);
              n.th[t].pc = static_cast<int16_t>(taken ? in.target : th.pc + 1);
              emit(std::move(n), ti,
                   labels ? absl::StrCat(in.text, " (speculated ", taken ? "taken" : "not taken", ")")
                          : "");
            }
          }
        }
      }
      for (size_t i = 0; i < th.win.size(); ++i) {
        const int ii = static_cast<int>(i);
        const Instr& in = p_.threads[t][th.win[i].pc];
        if (in.kind == InstrKind::kLoad && !(th.win[i].flags & kSat)) {
          State n = s;
          if (Satisfy(n, ti, ii, lp)) emit(std::move(n), ti, label);
        } else if ((in.kind == InstrKind::kStore || in.kind == InstrKind::kRmw ||
                    in.kind == InstrKind::kLwsync || in.kind == InstrKind::kSync ||
                    in.kind == InstrKind::kMsgsnd || in.kind == InstrKind::kAwaitDoorbell) &&
                   !(th.win[i].flags & kCommitted)) {
          State n = s;
          if (Commit(n, ti, ii, lp)) emit(std::move(n), ti, label);
        }
      }
    }
    const int nt = static_cast<int>(s.th.size());
    for (size_t w = 0; w < s.writes.size(); ++w) {
      if (s.writes[w].prop == all_) continue;
      for (int to = 0; to < nt; ++to) {
        if ((s.writes[w].prop & (1u << to)) ||
            !BarriersBeforeReached(s, s.writes[w].thread, static_cast<int16_t>(w), to)) {
          continue;
        }
        const int latest = Visible(s, to, s.writes[w].loc);
        for (int hidden = 0; hidden < 2; ++hidden) {
          // Already ordered the other way round: no copy needed to know.
          if (hidden && (s.writes[latest].after & Bit(static_cast<int>(w)))) continue;
          if (!hidden && (s.writes[w].after & Bit(latest))) continue;
          State n = s;
          if (!PropagateWrite(n, static_cast<int>(w), to, hidden != 0)) continue;
          std::string l;
          if (labels) {
            const Write& x = s.writes[w];
            l = absl::StrCat("   storage: ", p_.locations[x.loc], "=", x.value, " (CPU ", x.thread,
                             ") reaches CPU ", to,
                             hidden ? " (coherence-before what CPU " : "",
                             hidden ? absl::StrCat(to, " has: invisible there)") : "");
          }
          emit(std::move(n), s.writes[w].thread, l);
        }
      }
    }
    for (size_t b = 0; b < s.barriers.size(); ++b) {
      if (s.barriers[b].prop == all_) continue;
      for (int to = 0; to < nt; ++to) {
        if ((s.barriers[b].prop & (1u << to)) ||
            !EverythingBeforeReached(s, s.barriers[b].thread, static_cast<int16_t>(-(b + 1)), to)) {
          continue;
        }
        State n = s;
        if (PropagateBarrier(n, static_cast<int>(b), to)) {
          std::string l;
          if (labels) {
            const Barrier& x = s.barriers[b];
            l = absl::StrCat("   storage: ", x.sync ? "sync" : "lwsync", " of CPU ", x.thread,
                             " reaches CPU ", to,
                             x.sync && (n.barriers[b].prop == all_) ? " (acknowledged)" : "");
          }
          emit(std::move(n), s.barriers[b].thread, l);
        }
      }
    }
  }

  // Canonical encoding: writes and barriers renumbered by (thread, age);
  // dead writes (everywhere and overwritten everywhere, read by nothing
  // in flight) and finished barriers left out.
  void Encode(const State& s, std::string* out_buf) const {
    const int nw = static_cast<int>(s.writes.size());
    std::vector<char>& referenced = enc_referenced_;
    referenced.assign(nw, 0);
    for (const ThreadState& th : s.th) {
      for (const Slot& sl : th.win) {
        if (sl.wsrc >= 0) referenced[sl.wsrc] = 1;
      }
    }
    std::vector<char>& dead = enc_dead_;
    dead.assign(nw, 0);
    for (int w = 0; w < nw; ++w) {
      const Write& x = s.writes[w];
      if (x.prop != all_ || referenced[w]) continue;
      for (uint64_t m = x.after; m; m &= m - 1) {
        if (s.writes[__builtin_ctzll(m)].prop == all_) {
          dead[w] = 1;
          break;
        }
      }
    }
    for (auto [r, rw] : s.rmw) {
      if (dead[r] != dead[rw]) dead[r] = dead[rw] = 0;
    }
    std::vector<int>& order = enc_order_;
    order.clear();
    for (int w = 0; w < nw; ++w) {
      if (!dead[w]) order.push_back(w);
    }
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      return std::make_pair(s.writes[a].thread, a) < std::make_pair(s.writes[b].thread, b);
    });
    std::vector<int>& wmap = enc_wmap_;
    wmap.assign(nw, -1);
    for (size_t k = 0; k < order.size(); ++k) wmap[order[k]] = static_cast<int>(k);
    const int nb = static_cast<int>(s.barriers.size());
    std::vector<char>& bref = enc_bref_;
    bref.assign(nb, 0);
    for (const ThreadState& th : s.th) {
      for (const Slot& sl : th.win) {
        if (sl.bid >= 0 && s.barriers[sl.bid].prop != all_) bref[sl.bid] = 1;
      }
    }
    std::vector<int>& border = enc_border_;
    border.clear();
    for (int b = 0; b < nb; ++b) {
      if (s.barriers[b].prop != all_ || bref[b]) border.push_back(b);
    }
    std::sort(border.begin(), border.end(), [&](int a, int b) {
      return std::make_pair(s.barriers[a].thread, a) < std::make_pair(s.barriers[b].thread, b);
    });
    std::vector<int>& bmap = enc_bmap_;
    bmap.assign(nb, -1);
    for (size_t k = 0; k < border.size(); ++k) bmap[border[k]] = static_cast<int>(k);

    std::string& out = *out_buf;
    out.clear();
    auto put = [&out](int64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
    auto put16 = [&out](int v) {
      int16_t x = static_cast<int16_t>(v);
      out.append(reinterpret_cast<const char*>(&x), sizeof(x));
    };
    for (const ThreadState& th : s.th) {
      put16(th.pc);
      put16(th.doorbell);
      put16(static_cast<int>(th.win.size()));
      for (const Slot& sl : th.win) {
        put16(sl.pc);
        put16(sl.flags | (sl.pred << 4));
        put16(sl.wsrc >= 0 ? wmap[sl.wsrc] : sl.wsrc);
        put16(sl.bid >= 0 ? bmap[sl.bid] : -1);
        put(sl.val);
      }
      for (int64_t r : th.regs) put(r);
      for (int64_t g : th.ghosts) put(g);
    }
    put16(static_cast<int>(order.size()));
    for (int w : order) {
      const Write& x = s.writes[w];
      put16(x.loc);
      put16(x.thread);
      put(x.value);
      put(x.prop);
      uint64_t after = 0;
      for (int y = 0; y < nw; ++y) {
        if ((x.after & Bit(y)) && wmap[y] >= 0) after |= Bit(wmap[y]);
      }
      put(static_cast<int64_t>(after));
      uint64_t ob = 0;
      for (int y = 0; y < nw; ++y) {
        if ((x.ob & Bit(y)) && wmap[y] >= 0) ob |= Bit(wmap[y]);
      }
      put(static_cast<int64_t>(ob));
    }
    auto remap = [&](uint64_t m) {
      uint64_t r = 0;
      for (int y = 0; y < nw; ++y) {
        if ((m & Bit(y)) && wmap[y] >= 0) r |= Bit(wmap[y]);
      }
      return static_cast<int64_t>(r);
    };
    for (size_t t = 0; t < s.th.size(); ++t) {
      put(remap(s.seen[t]));
      put(remap(s.fenced[t]));
    }
    put16(static_cast<int>(border.size()));
    for (int b : border) {
      put16(s.barriers[b].thread);
      put16(s.barriers[b].sync);
      put(s.barriers[b].prop);
    }
    for (const auto& list : s.lists) {
      put16(static_cast<int>(list.size()));
      for (int16_t e : list) put16(e >= 0 ? wmap[e] : -(bmap[-e - 1] + 1));
    }
    std::vector<std::pair<int, int>>& pairs = enc_pairs_;
    pairs.clear();
    for (auto [r, rw] : s.rmw) {
      if (wmap[r] >= 0 && wmap[rw] >= 0) pairs.emplace_back(wmap[r], wmap[rw]);
    }
    std::sort(pairs.begin(), pairs.end());
    for (auto [a, b] : pairs) {
      put16(a);
      put16(b);
    }
  }

  bool Finished(const State& s) const {
    for (size_t t = 0; t < s.th.size(); ++t) {
      if (!s.th[t].win.empty() || s.th[t].pc < static_cast<int>(p_.threads[t].size())) return false;
    }
    return true;
  }

  Final FinalOf(const State& s) const {
    Final f;
    for (const ThreadState& th : s.th) {
      f.regs.push_back(th.regs);
      f.ghosts.push_back(th.ghosts);
    }
    for (size_t l = 0; l < p_.locations.size(); ++l) {
      f.memory.push_back(s.writes[Visible(s, 0, static_cast<int>(l))].value);
    }
    return f;
  }

  uint32_t all() const { return all_; }

  // Scratch space of Encode (one exploration runs on one thread).
  mutable std::vector<char> enc_referenced_, enc_dead_, enc_bref_;
  mutable std::vector<int> enc_order_, enc_wmap_, enc_border_, enc_bmap_;
  mutable std::vector<std::pair<int, int>> enc_pairs_;
  const Program& program() const { return p_; }

 private:
  const Program& p_;
  int window_;
  uint32_t all_;
};

struct Key {
  uint64_t a, b;
  bool operator==(const Key& o) const { return a == o.a && b == o.b; }
  template <typename H>
  friend H AbslHashValue(H h, const Key& k) {
    return H::combine(std::move(h), k.a, k.b);
  }
};

uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

Key HashOf(const std::string& bytes) {
  uint64_t a = 0x9e3779b97f4a7c15ULL ^ bytes.size();
  uint64_t b = 0x243f6a8885a308d3ULL + bytes.size();
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, bytes.data() + i, 8);
    a = Mix(a ^ v) + 0x632be59bd9b4e019ULL;
    b = (b ^ Mix(v + 0x85ebca6bULL)) * 0x100000001b3ULL;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  a = Mix(a ^ tail ^ 0x7f4a7c15ULL);
  b = Mix(b + tail * 31);
  return {a, b};
}

}  // namespace

bool StateView::Quiescent() const {
  const uint32_t all = static_cast<uint32_t>((uint64_t{1} << s_.th.size()) - 1);
  for (const Write& w : s_.writes) {
    if (w.prop != all) return false;
  }
  for (const Barrier& b : s_.barriers) {
    if (b.prop != all) return false;
  }
  return true;
}

int64_t StateView::Sees(int thread, int loc) const {
  int best = -1;
  for (size_t w = 0; w < s_.writes.size(); ++w) {
    const Write& x = s_.writes[w];
    if (x.loc != loc || !(x.prop & (1u << thread))) continue;
    if (best < 0 || (s_.writes[best].after & Bit(static_cast<int>(w)))) best = static_cast<int>(w);
  }
  return s_.writes[best].value;
}

int64_t StateView::Memory(int loc) const {
  // The write nothing is coherence-after (unique once quiescent).
  for (size_t w = 0; w < s_.writes.size(); ++w) {
    const Write& x = s_.writes[w];
    if (x.loc != loc) continue;
    bool last = true;
    for (size_t y = 0; y < s_.writes.size(); ++y) {
      if (s_.writes[y].loc == loc && (x.after & Bit(static_cast<int>(y)))) last = false;
    }
    if (last) return x.value;
  }
  return 0;
}

bool StateView::DoorbellPending(int thread) const { return s_.th[thread].doorbell; }
int64_t StateView::Ghost(int thread, int slot) const { return s_.th[thread].ghosts[slot]; }
int StateView::FetchPc(int thread) const { return s_.th[thread].pc; }
int StateView::OldestPending(int thread) const {
  for (const Slot& sl : s_.th[thread].win) {
    if (!(sl.flags & kCommitted)) return sl.pc;
  }
  return -1;
}
int StateView::InFlight(int thread) const { return static_cast<int>(s_.th[thread].win.size()); }
bool StateView::Finished(int thread) const {
  return s_.th[thread].win.empty() &&
         s_.th[thread].pc >= static_cast<int>(p_.threads[thread].size());
}

absl::Status ValidateProgram(const Program& p) {
  if (p.threads.empty() || p.threads.size() > kMaxThreads) {
    return absl::InvalidArgumentError(
        absl::StrCat("a program needs 1..", kMaxThreads, " threads, not ", p.threads.size()));
  }
  if (p.locations.empty()) return absl::InvalidArgumentError("a program needs a location");
  const int nl = static_cast<int>(p.locations.size());
  for (size_t t = 0; t < p.threads.size(); ++t) {
    const int n = static_cast<int>(p.threads[t].size());
    for (int i = 0; i < n; ++i) {
      const Instr& in = p.threads[t][i];
      const std::string where = absl::StrCat("thread ", t, " instruction ", i, " (", in.text, ")");
      auto reg_ok = [&](int r) { return r >= 0 && r < p.registers; };
      if (IsAccess(in) && (in.loc < 0 || in.loc >= nl)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": no such location ", in.loc));
      }
      if (WritesReg(in) && !reg_ok(in.reg)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": no such register ", in.reg));
      }
      for (int r : in.addr_deps) {
        if (!reg_ok(r)) return absl::InvalidArgumentError(absl::StrCat(where, ": bad register ", r));
      }
      for (int r : in.data_deps) {
        if (!reg_ok(r)) return absl::InvalidArgumentError(absl::StrCat(where, ": bad register ", r));
      }
      if (in.value_reg >= 0 && !reg_ok(in.value_reg)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": bad register ", in.value_reg));
      }
      if (in.kind == InstrKind::kBranch) {
        if (in.target < 0 || in.target > n) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": branch target ", in.target));
        }
        if (in.cond != Cond::kAlways && !reg_ok(in.reg)) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": branch on no register"));
        }
      }
      if (in.kind == InstrKind::kMsgsnd &&
          (in.value < 0 || in.value >= static_cast<int64_t>(p.threads.size()))) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": no thread ", in.value));
      }
      if (in.kind == InstrKind::kGhost && (in.value < 0 || in.value >= p.ghosts)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": no ghost ", in.value));
      }
      if (in.kind == InstrKind::kChoose && in.choices.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": nothing to choose"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ExploreResult> Explore(const Program& p, const ExploreOptions& options) {
  if (absl::Status st = ValidateProgram(p); !st.ok()) return st;
  if (options.window < 1) return absl::InvalidArgumentError("window must be at least 1");
  const auto start = std::chrono::steady_clock::now();
  Machine m(p, options.window);
  ExploreResult res;

  struct Node {
    uint32_t parent;
    uint32_t succ;
  };
  std::vector<Node> nodes;
  absl::flat_hash_set<Key> seen;
  std::deque<std::pair<State, uint32_t>> frontier;
  std::deque<int> depth_of;

  State init = m.Initial();
  if (!m.Normalize(init)) return absl::InvalidArgumentError("the initial state mispredicts");
  std::string enc;
  m.Encode(init, &enc);
  seen.insert(HashOf(enc));
  if (options.want_trace) nodes.push_back({UINT32_MAX, 0});
  int64_t goal_node = -1;
  if (options.goal && options.goal(StateView(init, p))) goal_node = 0;
  frontier.emplace_back(std::move(init), 0);
  depth_of.push_back(0);
  res.states = 1;

  std::vector<Machine::Succ> succ;
  const absl::Time deadline = absl::Now() + options.time_budget;
  bool stopped = false;
  int64_t expanded = 0;
  while (goal_node < 0 && !frontier.empty()) {
    if ((++expanded & 1023) == 0 && absl::Now() > deadline) {
      res.stop_reason = "time budget";
      stopped = true;
      break;
    }
    State s;
    uint32_t idx;
    int d;
    if (options.depth_first) {
      s = std::move(frontier.back().first);
      idx = frontier.back().second;
      frontier.pop_back();
      d = depth_of.back();
      depth_of.pop_back();
    } else {
      s = std::move(frontier.front().first);
      idx = frontier.front().second;
      frontier.pop_front();
      d = depth_of.front();
      depth_of.pop_front();
    }
    res.depth = std::max(res.depth, d);
    m.Successors(s, false, &succ, &res.pruned);
    res.transitions += static_cast<int64_t>(succ.size());
    if (succ.empty() && m.Finished(s) && StateView(s, p).Quiescent()) {
      ++res.finals;
      res.outcomes.insert(m.FinalOf(s));
    }
    for (size_t k = 0; k < succ.size(); ++k) {
      m.Encode(succ[k].state, &enc);
      Key key = HashOf(enc);
      if (!seen.insert(key).second) continue;
      ++res.states;
      uint32_t id = 0;
      if (options.want_trace) {
        id = static_cast<uint32_t>(nodes.size());
        nodes.push_back({idx, static_cast<uint32_t>(k)});
      }
      if (options.goal && options.goal(StateView(succ[k].state, p))) {
        goal_node = options.want_trace ? id : 0;
        res.depth = d + 1;
        break;
      }
      if (res.states >= options.max_states) {
        res.stop_reason = absl::StrCat("state limit ", options.max_states);
        stopped = true;
        break;
      }
      frontier.emplace_back(std::move(succ[k].state), id);
      depth_of.push_back(d + 1);
    }
    if (stopped) break;
  }
  res.goal_reached = goal_node >= 0;
  res.complete = !stopped && !res.goal_reached;
  if (res.goal_reached && options.want_trace) {
    std::vector<uint32_t> path;
    for (uint32_t n = static_cast<uint32_t>(goal_node); nodes[n].parent != UINT32_MAX;
         n = nodes[n].parent) {
      path.push_back(nodes[n].succ);
    }
    std::reverse(path.begin(), path.end());
    State s = m.Initial();
    m.Normalize(s);
    int64_t ignored = 0;
    for (uint32_t k : path) {
      m.Successors(s, true, &succ, &ignored);
      res.trace.push_back({succ[k].thread, succ[k].label});
      for (auto& [t, text] : succ[k].notes) res.trace.push_back({t, text});
      s = std::move(succ[k].state);
    }
  }
  res.wall_time = absl::FromChrono(std::chrono::steady_clock::now() - start);
  return res;
}

}  // namespace power
}  // namespace hostipi
}  // namespace kvmbed
