// Random small programs on emulated-power, checked against axioms every
// POWER execution satisfies, using the trace to rebuild what happened:
//  * coherence: per word, all writes form one order (co); a CPU's accesses
//    to one word, in program order, never go backwards in it (CoRR, CoWR,
//    CoRW, CoWW), and the final value is the co-last write;
//  * RMW atomicity: an Exchange's write immediately follows, in co, the
//    write it read;
//  * propagation (its store-store part): co together with the order that
//    lwsync/sync put between a CPU's stores has no cycle.
// Every store writes a unique value, so reads and co positions are exact.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {
namespace {

class SplitMix {
 public:
  explicit SplitMix(uint64_t s) : x_(s) {}
  uint64_t Next() {
    uint64_t z = (x_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t x_;
};

enum class Op { kStore, kLoad, kLwsync, kSync, kXchg, kXchgOrdered, kRelax };

struct Instr {
  Op op;
  int word;
  uint64_t value;  // unique per store / xchg
};

using Program = std::vector<std::vector<Instr>>;

Program RandomProgram(SplitMix& r, int cpus, int words) {
  Program p(cpus);
  for (int c = 0; c < cpus; ++c) {
    int n = 2 + r.Below(5);
    for (int i = 0; i < n; ++i) {
      Instr in;
      int k = r.Below(12);
      in.op = k < 4 ? Op::kStore
            : k < 7 ? Op::kLoad
            : k < 8 ? Op::kLwsync
            : k < 9 ? Op::kSync
            : k < 10 ? Op::kXchg
            : k < 11 ? Op::kXchgOrdered
                     : Op::kRelax;
      in.word = r.Below(words);
      in.value = (static_cast<uint64_t>(c + 1) << 32) | static_cast<uint64_t>(i + 1);
      p[c].push_back(in);
    }
  }
  return p;
}

struct Event {  // what the trace says, per CPU in program order
  MemoryOp op;
  int word;
  uint64_t value;
  uint64_t old;
};

std::string Describe(const Program& p) {
  std::string s;
  for (size_t c = 0; c < p.size(); ++c) {
    absl::StrAppend(&s, "CPU", c, ":");
    for (const Instr& in : p[c]) {
      const char* names[] = {"W", "R", "lwsync", "sync", "xchg", "xchg_mb", "relax"};
      absl::StrAppend(&s, " ", names[static_cast<int>(in.op)]);
      if (in.op == Op::kStore || in.op == Op::kLoad || in.op == Op::kXchg ||
          in.op == Op::kXchgOrdered) {
        absl::StrAppend(&s, " w", in.word);
      }
    }
    s += "\n";
  }
  return s;
}

// Runs p once and checks the axioms; returns "" or what is wrong.
std::string Check(const Program& p, const RunOptions& base, int words,
                  std::string* log_out);

std::string RunAndCheck(const Program& p, const RunOptions& base, int words) {
  std::string log;
  std::string err = Check(p, base, words, &log);
  if (err.empty()) return err;
  return absl::StrCat(err, "\ntrace (value = cpu+1.index):\n", log);
}

std::string Check(const Program& p, const RunOptions& base, int words,
                  std::string* log_out) {
  const int cpus = static_cast<int>(p.size());
  std::vector<SharedWord> mem(static_cast<size_t>(words));
  std::map<const SharedWord*, int> index;
  for (int i = 0; i < words; ++i) index[&mem[static_cast<size_t>(i)]] = i;

  std::vector<std::vector<uint64_t>> co(static_cast<size_t>(words),
                                        std::vector<uint64_t>{0});
  std::vector<std::vector<Event>> po(static_cast<size_t>(cpus));
  std::string error;
  std::string log;  // the trace, appended to any error
  RunOptions o = base;
  o.trace = [&](const MemoryTraceEvent& e) {
    int w = e.word ? index.at(e.word) : -1;
    absl::StrAppend(&log, "  t=", e.time, " cpu", e.cpu, " ", MemoryOpName(e.op),
                    w >= 0 ? absl::StrCat(" w", w) : std::string(), " v=",
                    e.value >> 32, ".", e.value & 0xffffffff, " old=",
                    e.old >> 32, ".", e.old & 0xffffffff, "\n");
    auto& order = w >= 0 ? co[static_cast<size_t>(w)] : co[0];
    switch (e.op) {
      case MemoryOp::kDrain:
      case MemoryOp::kSignal:
        order.push_back(e.value);
        break;
      case MemoryOp::kCoherenceDrop:
        if (order.back() != e.old && error.empty()) {
          error = "coherence drop before a value that is not the current one";
        }
        order.insert(order.end() - 1, e.value);
        break;
      case MemoryOp::kExchange:
        if (order.back() != e.old && error.empty()) {
          error = absl::StrCat("xchg read ", e.old, " but the current value is ",
                               order.back());
        }
        order.push_back(e.value);
        po[static_cast<size_t>(e.cpu)].push_back({e.op, w, e.value, e.old});
        break;
      case MemoryOp::kStore:
      case MemoryOp::kLoad:
      case MemoryOp::kLightBarrier:
      case MemoryOp::kFullBarrier:
        po[static_cast<size_t>(e.cpu)].push_back({e.op, w, e.value, e.old});
        break;
      default:
        break;
    }
  };
  auto sys = MemorySystem::Create(o);
  std::vector<CpuBody> bodies;
  for (int c = 0; c < cpus; ++c) {
    bodies.push_back([&, c](CpuMemory& m) {
      for (const Instr& in : p[static_cast<size_t>(c)]) {
        SharedWord& w = mem[static_cast<size_t>(in.word)];
        switch (in.op) {
          case Op::kStore: m.Store(w, in.value); break;
          case Op::kLoad: m.Load(w); break;
          case Op::kLwsync: m.LightBarrier(); break;
          case Op::kSync: m.FullBarrier(); break;
          case Op::kXchg: m.Exchange(w, in.value, false); break;
          case Op::kXchgOrdered: m.Exchange(w, in.value, true); break;
          case Op::kRelax: m.Relax(); break;
        }
      }
    });
  }
  absl::Status s = sys->Run(bodies, absl::Seconds(10));
  *log_out = log;
  if (!s.ok()) return s.ToString();
  if (!error.empty()) return error;

  // Positions in co.
  std::vector<std::map<uint64_t, int>> pos(static_cast<size_t>(words));
  for (int w = 0; w < words; ++w) {
    const auto& order = co[static_cast<size_t>(w)];
    for (size_t i = 0; i < order.size(); ++i) {
      if (!pos[static_cast<size_t>(w)].emplace(order[i], static_cast<int>(i)).second) {
        return absl::StrCat("value ", order[i], " twice in co of w", w);
      }
    }
    if (mem[static_cast<size_t>(w)].value.load() != order.back()) {
      return absl::StrCat("w", w, " ends as ", mem[static_cast<size_t>(w)].value.load(),
                          " but the co-last write is ", order.back());
    }
  }
  auto at = [&](int w, uint64_t v) {
    auto it = pos[static_cast<size_t>(w)].find(v);
    return it == pos[static_cast<size_t>(w)].end() ? -1 : it->second;
  };
  // Coherence per CPU and location, RMW atomicity.
  for (int c = 0; c < cpus; ++c) {
    std::vector<int> floor(static_cast<size_t>(words), 0);
    for (const Event& e : po[static_cast<size_t>(c)]) {
      if (e.word < 0) continue;
      int& f = floor[static_cast<size_t>(e.word)];
      if (e.op == MemoryOp::kStore) {
        int p = at(e.word, e.value);
        if (p < 0) return absl::StrCat("store ", e.value, " never placed in co");
        if (p <= f) return absl::StrCat("CPU", c, " store w", e.word, " not co-after its earlier access (CoWW/CoRW)");
        f = p;
      } else if (e.op == MemoryOp::kLoad) {
        int p = at(e.word, e.value);
        if (p < 0) return absl::StrCat("load read ", e.value, ", which no write wrote");
        if (p < f) return absl::StrCat("CPU", c, " load w", e.word, " went backwards (CoRR/CoWR)");
        f = p;
      } else if (e.op == MemoryOp::kExchange) {
        int pr = at(e.word, e.old), pw = at(e.word, e.value);
        if (pr < f) return absl::StrCat("CPU", c, " xchg w", e.word, " read backwards");
        if (pw != pr + 1) return absl::StrCat("CPU", c, " xchg w", e.word, " not atomic");
        f = pw;
      }
    }
  }
  // Propagation, store-store part: nodes are writes (word, co position);
  // edges: co successor, and barrier order between one CPU's writes.
  std::map<std::pair<int, int>, std::vector<std::pair<int, int>>> succ;
  for (int w = 0; w < words; ++w) {
    for (size_t i = 0; i + 1 < co[static_cast<size_t>(w)].size(); ++i) {
      succ[{w, static_cast<int>(i)}].push_back({w, static_cast<int>(i + 1)});
    }
  }
  for (int c = 0; c < cpus; ++c) {
    std::vector<std::pair<int, int>> before_barrier, since_barrier;
    for (const Event& e : po[static_cast<size_t>(c)]) {
      if (e.op == MemoryOp::kLightBarrier || e.op == MemoryOp::kFullBarrier) {
        before_barrier.insert(before_barrier.end(), since_barrier.begin(),
                              since_barrier.end());
        since_barrier.clear();
        continue;
      }
      if (e.op != MemoryOp::kStore && e.op != MemoryOp::kExchange) continue;
      std::pair<int, int> node{e.word, at(e.word, e.value)};
      for (const auto& b : before_barrier) succ[b].push_back(node);
      since_barrier.push_back(node);
    }
  }
  std::map<std::pair<int, int>, int> state;  // 1 = on stack, 2 = done
  std::function<bool(std::pair<int, int>)> cyclic = [&](std::pair<int, int> n) {
    state[n] = 1;
    for (const auto& m : succ[n]) {
      if (state[m] == 1) return true;
      if (state[m] == 0 && cyclic(m)) return true;
    }
    state[n] = 2;
    return false;
  };
  for (const auto& [n, unused] : succ) {
    if (state[n] == 0 && cyclic(n)) return "cycle in co + lwsync/sync store order";
  }
  return "";
}

TEST(EmulatedPowerFuzz, RandomProgramsKeepCoherenceAtomicityAndPropagation) {
  SplitMix r(20261122);
  const double drains[] = {0.02, 0.25, 1.0};
  const double rates[] = {0.0, 0.25, 1.0};
  int64_t runs = 0;
  for (int prog = 0; prog < 8000; ++prog) {
    const int cpus = 2 + r.Below(2);
    const int words = 1 + r.Below(3);
    Program p = RandomProgram(r, cpus, words);
    RunOptions o;
    o.mode = OrderingMode::kEmulatedPower;
    o.seed = r.Next();
    o.drain_probability = drains[r.Below(3)];
    o.stale_load_probability = rates[r.Below(3)];
    o.coherence_drop_probability = rates[r.Below(3)];
    for (int k = 0; k < 20; ++k) {
      o.seed = r.Next();
      std::string err = RunAndCheck(p, o, words);
      ++runs;
      ASSERT_EQ(err, "") << "program " << prog << " seed " << o.seed
                         << " drain=" << o.drain_probability
                         << " stale=" << o.stale_load_probability
                         << " drop=" << o.coherence_drop_probability << "\n"
                         << Describe(p);
    }
  }
  std::printf("%lld random runs checked\n", static_cast<long long>(runs));
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
