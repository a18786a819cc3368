// The litmus format's parser, the suite and its bridges (power_litmus.h).
#include "hostipi/power_litmus.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kvmbed {
namespace hostipi {

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kAllowed: return "allowed";
    case Verdict::kForbidden: return "forbidden";
    case Verdict::kUnknown: return "?";
  }
  return "?";
}

namespace {

constexpr int kRegisters = 4;

absl::StatusOr<int> ParseReg(absl::string_view text) {
  absl::string_view s = text;
  int r;
  if (!absl::ConsumePrefix(&s, "r") || !absl::SimpleAtoi(s, &r) || r < 0 || r >= kRegisters) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a register; write r0..r", kRegisters - 1));
  }
  return r;
}

absl::StatusOr<std::vector<int>> ParseRegList(absl::string_view s) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(s, ',')) {
    absl::StatusOr<int> r = ParseReg(absl::StripAsciiWhitespace(part));
    if (!r.ok()) return r.status();
    out.push_back(*r);
  }
  return out;
}

}  // namespace

bool ParsedLitmus::Matches(const power::Final& f) const {
  for (const Atom& a : exists) {
    const int64_t v = a.thread < 0 ? f.memory[a.index] : f.regs[a.thread][a.index];
    if (v != a.value) return false;
  }
  return true;
}

absl::StatusOr<ParsedLitmus> ParseLitmus(const std::string& text) {
  ParsedLitmus t;
  t.program.registers = kRegisters;
  std::map<std::string, int> locs;
  auto loc_of = [&](absl::string_view name) {
    auto [it, fresh] = locs.emplace(std::string(name), static_cast<int>(locs.size()));
    if (fresh) {
      t.program.locations.emplace_back(name);
      t.program.initial.push_back(0);
    }
    return it->second;
  };
  std::string exists_text;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    auto err = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(t.name.empty() ? "litmus" : t.name, " line ", line_no, ": ", what));
    };
    if (absl::ConsumePrefix(&line, "name ")) {
      t.name = std::string(absl::StripAsciiWhitespace(line));
      continue;
    }
    if (absl::ConsumePrefix(&line, "exists")) {
      exists_text = std::string(line);
      continue;
    }
    if (line[0] != 'P') return err(absl::StrCat("expected 'name', 'P<n>:' or 'exists', got '", line, "'"));
    const size_t colon = line.find(':');
    int thread;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(line.substr(1, colon - 1), &thread) ||
        thread != static_cast<int>(t.program.threads.size())) {
      return err(absl::StrCat("threads are P0:, P1:, ... in order"));
    }
    std::vector<power::Instr> prog;
    for (absl::string_view item : absl::StrSplit(line.substr(colon + 1), ';')) {
      item = absl::StripAsciiWhitespace(item);
      if (item.empty()) continue;
      std::vector<absl::string_view> w = absl::StrSplit(item, ' ', absl::SkipEmpty());
      power::Instr in;
      in.text = std::string(item);
      const std::string op(w[0]);
      size_t fixed = 0;
      if (op == "W" && w.size() >= 3) {
        in.kind = power::InstrKind::kStore;
        in.loc = loc_of(w[1]);
        if (!absl::SimpleAtoi(w[2], &in.value)) return err(absl::StrCat("bad value in '", item, "'"));
        fixed = 3;
      } else if (op == "R" && w.size() >= 3) {
        in.kind = power::InstrKind::kLoad;
        in.loc = loc_of(w[1]);
        absl::StatusOr<int> r = ParseReg(w[2]);
        if (!r.ok()) return err(r.status().message());
        in.reg = *r;
        fixed = 3;
      } else if (op == "xchg" && w.size() >= 4) {
        in.kind = power::InstrKind::kRmw;
        in.loc = loc_of(w[1]);
        if (!absl::SimpleAtoi(w[2], &in.value)) return err(absl::StrCat("bad value in '", item, "'"));
        absl::StatusOr<int> r = ParseReg(w[3]);
        if (!r.ok()) return err(r.status().message());
        in.reg = *r;
        fixed = 4;
      } else if (op == "lwsync" || op == "sync" || op == "isync") {
        in.kind = op == "lwsync" ? power::InstrKind::kLwsync
                  : op == "sync" ? power::InstrKind::kSync
                                 : power::InstrKind::kIsync;
        fixed = 1;
      } else if (op == "ctrl" && w.size() >= 2) {
        in.kind = power::InstrKind::kBranch;
        absl::StatusOr<int> r = ParseReg(w[1]);
        if (!r.ok()) return err(r.status().message());
        in.reg = *r;
        in.cond = power::Cond::kEq;
        in.value = 0;
        in.target = static_cast<int>(prog.size()) + 1;
        fixed = 2;
      } else {
        return err(absl::StrCat("unknown instruction '", item,
                                "'; use W, R, xchg, lwsync, sync, isync or ctrl"));
      }
      for (size_t k = fixed; k < w.size(); ++k) {
        absl::string_view opt = w[k];
        if (absl::ConsumePrefix(&opt, "addr=")) {
          absl::StatusOr<std::vector<int>> regs = ParseRegList(opt);
          if (!regs.ok()) return err(regs.status().message());
          in.addr_deps = *regs;
        } else if (absl::ConsumePrefix(&opt, "data=") && in.kind == power::InstrKind::kStore) {
          absl::StatusOr<std::vector<int>> regs = ParseRegList(opt);
          if (!regs.ok()) return err(regs.status().message());
          in.data_deps = *regs;
        } else {
          return err(absl::StrCat("unknown option '", opt, "' in '", item, "'"));
        }
      }
      prog.push_back(std::move(in));
    }
    t.program.threads.push_back(std::move(prog));
  }
  if (t.name.empty()) return absl::InvalidArgumentError("litmus: no 'name' line");
  if (t.program.threads.empty()) return absl::InvalidArgumentError(absl::StrCat(t.name, ": no threads"));
  if (exists_text.empty()) return absl::InvalidArgumentError(absl::StrCat(t.name, ": no 'exists' line"));
  for (absl::string_view atom : absl::StrSplit(exists_text, '&')) {
    atom = absl::StripAsciiWhitespace(atom);
    ParsedLitmus::Atom a;
    const size_t eq = atom.find('=');
    if (eq == absl::string_view::npos || !absl::SimpleAtoi(atom.substr(eq + 1), &a.value)) {
      return absl::InvalidArgumentError(absl::StrCat(t.name, ": bad condition '", atom, "'"));
    }
    absl::string_view lhs = atom.substr(0, eq);
    const size_t colon = lhs.find(':');
    if (colon != absl::string_view::npos) {
      if (!absl::SimpleAtoi(lhs.substr(0, colon), &a.thread) || a.thread < 0 ||
          a.thread >= static_cast<int>(t.program.threads.size())) {
        return absl::InvalidArgumentError(absl::StrCat(t.name, ": no thread in '", atom, "'"));
      }
      absl::StatusOr<int> r = ParseReg(lhs.substr(colon + 1));
      if (!r.ok()) return absl::InvalidArgumentError(absl::StrCat(t.name, ": ", r.status().message()));
      a.index = *r;
    } else {
      auto it = locs.find(std::string(lhs));
      if (it == locs.end()) {
        return absl::InvalidArgumentError(absl::StrCat(t.name, ": no location '", lhs, "'"));
      }
      a.index = it->second;
    }
    t.exists.push_back(a);
  }
  if (absl::Status st = power::ValidateProgram(t.program); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(t.name, ": ", st.message()));
  }
  return t;
}

absl::StatusOr<ExploredLitmus> ExploreLitmus(const ParsedLitmus& t, int window) {
  power::ExploreOptions o;
  o.window = window;
  o.want_trace = false;
  absl::StatusOr<power::ExploreResult> r = power::Explore(t.program, o);
  if (!r.ok()) return r.status();
  if (!r->complete) {
    return absl::ResourceExhaustedError(absl::StrCat(t.name, ": exploration stopped (", r->stop_reason, ")"));
  }
  ExploredLitmus e;
  e.name = t.name;
  for (const power::Final& f : r->outcomes) e.reachable |= t.Matches(f);
  e.result = std::move(*r);
  return e;
}

namespace {

// producer[k][r]: the instruction before k (program order) that last wrote
// register r, or -1.
std::vector<std::vector<int>> RegisterProducers(const std::vector<power::Instr>& prog,
                                               int registers) {
  std::vector<std::vector<int>> out(prog.size() + 1, std::vector<int>(registers, -1));
  for (size_t k = 0; k < prog.size(); ++k) {
    out[k + 1] = out[k];
    const power::Instr& in = prog[k];
    const bool writes = in.kind == power::InstrKind::kLoad || in.kind == power::InstrKind::kRmw ||
                        in.kind == power::InstrKind::kChoose;
    if (writes && in.reg >= 0 && in.reg < static_cast<int>(out[k + 1].size())) {
      out[k + 1][in.reg] = static_cast<int>(k);
    }
  }
  return out;
}

// May prog[j], a load or a store, be issued while the instructions of
// [head, j) not yet executed are still pending? As POWER (Sarkar et al.'s
// rules for satisfying a read and committing a write; herd's ppo) allows:
//  * its address registers (a store's data registers too) come from
//    executed instructions (addr/data dependencies);
//  * every pending one is a plain load or store to another location
//    (coherence) whose address is known (herd's addr;po; a load whose
//    address is unknown could alias), or an isync (which alone orders
//    nothing before a store; a load waits: ctrl+isync), or a branch (loads
//    are satisfied speculatively past it; a store only once the register
//    it tests is known: ctrl); lwsync, sync and RMWs order both;
//  * a load: no pending instruction reads or writes its register.
bool MayIssueEarly(const std::vector<power::Instr>& prog,
                   const std::vector<std::vector<int>>& producer,
                   const std::vector<char>& done, size_t head, size_t j) {
  auto known = [&](size_t at, int r) {
    if (r < 0 || r >= static_cast<int>(producer[at].size())) return false;
    const int p = producer[at][r];
    return p < 0 || done[p];
  };
  const power::Instr& s = prog[j];
  const bool store = s.kind == power::InstrKind::kStore;
  if (!store && s.kind != power::InstrKind::kLoad) return false;
  for (int r : s.addr_deps) {
    if (!known(j, r)) return false;
  }
  for (int r : s.data_deps) {
    if (!known(j, r)) return false;
  }
  if (s.value_reg >= 0 && !known(j, s.value_reg)) return false;
  for (size_t i = head; i < j; ++i) {
    if (done[i]) continue;
    const power::Instr& p = prog[i];
    if (!store) {
      // Register hazards: the pending instruction must see its own inputs.
      if (p.reg == s.reg) return false;
      for (int r : p.addr_deps) {
        if (r == s.reg) return false;
      }
      for (int r : p.data_deps) {
        if (r == s.reg) return false;
      }
      if (p.value_reg == s.reg) return false;
    }
    switch (p.kind) {
      case power::InstrKind::kIsync:
        if (!store) return false;
        continue;
      case power::InstrKind::kBranch:
        // A branch commits once what it tests is known; a store waits for
        // that (ctrl), not for unrelated earlier loads.
        if (store && !known(i, p.reg)) return false;
        continue;
      case power::InstrKind::kLoad:
      case power::InstrKind::kStore:
        break;
      default:
        return false;
    }
    if (p.loc == s.loc) return false;
    for (int r : p.addr_deps) {
      if (!known(i, r)) return false;
    }
  }
  return true;
}

// The token an isync after a branch waits for, given the satisfaction
// tokens `sat` of the loads before it (all of [0, at) has executed: nothing
// passes a pending isync). POWER commits the isync once every earlier
// branch has committed and every earlier access's address is determined;
// nothing else before it (an unrelated load still unsatisfied, a store's
// data) holds it up. A branch commits once the instruction feeding its
// register has; a load once it is satisfied, its address sources, the
// earlier branches and barriers and the earlier accesses to its location
// have (a read forwarded from its own store, or ordered after an earlier
// read of the location, commits after them); a store likewise, with its
// data sources. So each instruction's commit token is the largest of
// those. An RMW (read and written at once by the runner) has no token of
// its own: then every earlier access counts (`all`), as before.
CpuMemory::DepToken IsyncToken(const std::vector<power::Instr>& prog,
                               const std::vector<std::vector<int>>& producer,
                               const std::vector<CpuMemory::DepToken>& sat, size_t at,
                               CpuMemory::DepToken all) {
  std::vector<CpuMemory::DepToken> commit(at, 0);
  CpuMemory::DepToken branches = 0, barrier = 0, every = 0, out = 0;
  for (size_t i = 0; i < at; ++i) {
    const power::Instr& in = prog[i];
    auto src = [&](int r) -> CpuMemory::DepToken {
      if (r < 0 || r >= static_cast<int>(producer[i].size())) return 0;
      const int p = producer[i][r];
      return p < 0 ? 0 : commit[p];
    };
    CpuMemory::DepToken c = std::max(branches, barrier);
    CpuMemory::DepToken addr = 0;
    for (int r : in.addr_deps) addr = std::max(addr, src(r));
    switch (in.kind) {
      case power::InstrKind::kLoad:
      case power::InstrKind::kStore:
        c = std::max(c, addr);
        out = std::max(out, addr);
        if (in.kind == power::InstrKind::kLoad) {
          c = std::max(c, sat[i]);
        } else {
          for (int r : in.data_deps) c = std::max(c, src(r));
          c = std::max(c, src(in.value_reg));
        }
        for (size_t j = 0; j < i; ++j) {
          const power::InstrKind k = prog[j].kind;
          if ((k == power::InstrKind::kLoad || k == power::InstrKind::kStore) &&
              prog[j].loc == in.loc) {
            c = std::max(c, commit[j]);
          }
        }
        break;
      case power::InstrKind::kBranch:
        c = std::max(c, src(in.reg));
        branches = std::max(branches, c);
        out = std::max(out, c);
        break;
      case power::InstrKind::kLwsync:
      case power::InstrKind::kSync:
        c = std::max(c, every);
        barrier = c;
        break;
      case power::InstrKind::kIsync:
        c = std::max(c, out);
        break;
      case power::InstrKind::kRmw:
        return std::max(all, out);
      default:
        break;
    }
    commit[i] = c;
    every = std::max(every, c);
  }
  return out;
}

}  // namespace

absl::StatusOr<LitmusTest> ToSampledTest(const ParsedLitmus& t) {
  const int n = static_cast<int>(t.program.threads.size());
  if (n > kLitmusMaxCpus || static_cast<int>(t.program.locations.size()) > kLitmusWords) {
    return absl::InvalidArgumentError(absl::StrCat(t.name, ": more CPUs or locations than the sampled runner has"));
  }
  for (const auto& prog : t.program.threads) {
    for (const power::Instr& in : prog) {
      if (in.reg >= kLitmusRegs && in.kind != power::InstrKind::kBranch) {
        return absl::InvalidArgumentError(absl::StrCat(t.name, ": register r", in.reg, " beyond the sampled runner's"));
      }
    }
  }
  for (int64_t v : t.program.initial) {
    if (v != 0) {
      return absl::InvalidArgumentError(absl::StrCat(t.name, ": the sampled runner starts every location at 0"));
    }
  }
  for (const ParsedLitmus::Atom& a : t.exists) {
    if (a.thread >= 0 && a.index >= kLitmusRegs) {
      return absl::InvalidArgumentError(absl::StrCat(t.name, ": condition on r", a.index));
    }
  }
  LitmusTest lt;
  lt.name = t.name;
  for (int c = 0; c < n; ++c) {
    const std::vector<power::Instr> prog = t.program.threads[c];
    const std::vector<std::vector<int>> producer = RegisterProducers(prog, t.program.registers);
    lt.cpu.push_back([prog, producer](CpuMemory& mem, SharedWord* words, uint64_t* regs) {
      // Dependency tokens per register; a load after ctrl+isync depends on
      // what the branch tested.
      CpuMemory::DepToken tok[16] = {};
      CpuMemory::DepToken ctrl = 0, isync = 0;
      // Every earlier load's token and store's dependencies: what an isync
      // after a branch waits for when an RMW precedes it (IsyncToken).
      CpuMemory::DepToken all = 0;
      bool branched = false;
      // Per instruction: the token a load was satisfied with (IsyncToken).
      std::vector<CpuMemory::DepToken> sat(prog.size(), 0);
      // Per location, this CPU's last executed store: its value and when it
      // could commit (its address, data and control sources).
      bool stored[kLitmusWords] = {};
      uint64_t stored_value[kLitmusWords] = {};
      CpuMemory::DepToken stored_dep[kLitmusWords] = {};
      auto execute = [&](size_t at) {
        const power::Instr& in = prog[at];
        switch (in.kind) {
          case power::InstrKind::kLoad: {
            CpuMemory::DepToken dep = isync;
            for (int r : in.addr_deps) dep = std::max(dep, tok[r]);
            CpuMemory::DepToken got = 0;
            regs[in.reg] = dep == 0 ? mem.LoadToken(words[in.loc], &got)
                                    : mem.LoadAfter(words[in.loc], dep, &got);
            // A coherence detour: after its own store to the location the
            // CPU read another CPU's coherence-later write, so it was
            // satisfied after that store committed, i.e. after the store's
            // sources (herd's detour; DETOUR0658, MP+sync+ctrl-detw-addr).
            if (stored[in.loc] && regs[in.reg] != stored_value[in.loc]) {
              got = std::max(got, stored_dep[in.loc]);
            }
            tok[in.reg] = got;
            sat[at] = got;
            all = std::max(all, got);
            break;
          }
          case power::InstrKind::kStore: {
            // The stored value: a constant, or a loaded register's value.
            const uint64_t v = in.value_reg >= 0 ? regs[in.value_reg]
                                                 : static_cast<uint64_t>(in.value);
            CpuMemory::DepToken dep = 0;
            for (int r : in.addr_deps) dep = std::max(dep, tok[r]);
            for (int r : in.data_deps) dep = std::max(dep, tok[r]);
            if (in.value_reg >= 0) dep = std::max(dep, tok[in.value_reg]);
            mem.StoreAfter(words[in.loc], v, dep);
            all = std::max(all, dep);
            // It commits only after earlier branches' registers are known.
            CpuMemory::DepToken commit = dep;
            for (size_t i = 0; i < at; ++i) {
              if (prog[i].kind == power::InstrKind::kBranch) commit = std::max(commit, tok[prog[i].reg]);
            }
            stored[in.loc] = true;
            stored_value[in.loc] = v;
            stored_dep[in.loc] = commit;
            break;
          }
          case power::InstrKind::kRmw:
            regs[in.reg] = mem.Exchange(words[in.loc], static_cast<uint64_t>(in.value), false);
            break;
          case power::InstrKind::kLwsync:
            mem.LightBarrier();
            break;
          case power::InstrKind::kSync:
            mem.FullBarrier();
            break;
          case power::InstrKind::kBranch:
            ctrl = std::max(ctrl, tok[in.reg]);
            branched = true;
            break;
          case power::InstrKind::kIsync:
            // After a branch: wait for the earlier branches to commit and
            // the earlier addresses (IsyncToken), not for every access.
            if (branched) isync = std::max({isync, ctrl, IsyncToken(prog, producer, sat, at, all)});
            break;
          default:
            break;
        }
      };
      // Out-of-order issue: the oldest instruction not yet executed, or a
      // later load or store that may go before it (MayIssueEarly), picked
      // by the mode's seeded choice (native: always the oldest).
      std::vector<char> done(prog.size(), 0);
      std::vector<size_t> ready;
      size_t head = 0;
      bool passed = false;  // a later instruction went before an earlier one
      // One run in four is eager: a later instruction that may go first
      // does so 7 times in 8, and what it passed waits longer (mean 63
      // scheduling points), so shapes that need several instructions to go
      // early while the passed one waits for other CPUs (herd's LB-like
      // DETOURs) are sampled often enough. Same legal choices, other odds.
      const bool eager = mem.Pick(4) == 1;  // native: Pick() is 0, never eager
      const uint64_t stay = eager ? 64 : 8;
      while (head < prog.size()) {
        ready.clear();
        for (size_t j = head + 1; j < prog.size(); ++j) {
          if (done[j]) continue;
          const power::InstrKind k = prog[j].kind;
          if (MayIssueEarly(prog, producer, done, head, j)) ready.push_back(j);
          // Nothing passes a pending barrier or RMW.
          if (k == power::InstrKind::kLwsync || k == power::InstrKind::kSync ||
              k == power::InstrKind::kRmw) {
            break;
          }
        }
        size_t pick = head;
        if (!ready.empty()) {
          if (eager) {
            if (mem.Pick(8) != 0) pick = ready[mem.Pick(ready.size())];
          } else {
            const uint64_t k = mem.Pick(ready.size() + 1);
            if (k > 0) pick = ready[k - 1];
          }
        }
        if (pick == head && passed) {
          // An access that a later one passed may be performed long after
          // (LB's other side waits for the passing store; a passed store
          // lands after other CPUs' writes): wait a geometric number of
          // scheduling points (mean 7, eager 63).
          while (mem.Pick(stay) != 0) mem.Relax();
        }
        execute(pick);
        done[pick] = 1;
        passed |= pick != head;
        while (head < prog.size() && done[head]) ++head;
      }
    });
  }
  const std::vector<ParsedLitmus::Atom> atoms = t.exists;
  lt.interesting = [atoms](const LitmusOutcome& o) {
    for (const ParsedLitmus::Atom& a : atoms) {
      const uint64_t v = a.thread < 0 ? o.mem[a.index] : o.regs[a.thread][a.index];
      if (v != static_cast<uint64_t>(a.value)) return false;
    }
    return true;
  };
  return lt;
}

bool SampledOutcomeReachable(const ParsedLitmus& t, const power::ExploreResult& r,
                             const LitmusOutcome& o) {
  const int n = static_cast<int>(t.program.threads.size());
  for (const power::Final& f : r.outcomes) {
    bool same = true;
    for (int c = 0; c < n && same; ++c) {
      for (int k = 0; k < kLitmusRegs && k < static_cast<int>(f.regs[c].size()); ++k) {
        same &= f.regs[c][k] == static_cast<int64_t>(o.regs[c][k]);
      }
    }
    for (size_t l = 0; l < t.program.locations.size() && same; ++l) {
      same &= f.memory[l] == static_cast<int64_t>(o.mem[l]);
    }
    if (same) return true;
  }
  return false;
}

namespace {

constexpr Verdict A = Verdict::kAllowed;
constexpr Verdict F = Verdict::kForbidden;
constexpr Verdict U = Verdict::kUnknown;

}  // namespace

// POWER verdicts: herdtools7 catalogue/herding-cats/ppc/tests/ppc.allowed
// (model column) for every name it lists; CoRR1/CoWW/CoRW/CoWR are
// coherence (forbidden under every model); ISA2 (no fences) is implied
// allowed by ISA2+lwsync+lwsync+po being allowed.
const std::vector<SuiteEntry>& LitmusSuite() {
  static const std::vector<SuiteEntry>* kSuite = new std::vector<SuiteEntry>{
      // SB: store buffering.
      {"name SB\nP0: W x 1; R y r0\nP1: W y 1; R x r0\nexists 0:r0=0 & 1:r0=0", A, A},
      {"name SB+lwsyncs\nP0: W x 1; lwsync; R y r0\nP1: W y 1; lwsync; R x r0\nexists 0:r0=0 & 1:r0=0", A, A},
      {"name SB+lwsync+sync\nP0: W x 1; lwsync; R y r0\nP1: W y 1; sync; R x r0\nexists 0:r0=0 & 1:r0=0", A, A},
      {"name SB+syncs\nP0: W x 1; sync; R y r0\nP1: W y 1; sync; R x r0\nexists 0:r0=0 & 1:r0=0", F, F},
      // MP: message passing.
      {"name MP\nP0: W x 1; W y 1\nP1: R y r0; R x r1\nexists 1:r0=1 & 1:r1=0", A, F},
      {"name MP+lwsync+po\nP0: W x 1; lwsync; W y 1\nP1: R y r0; R x r1\nexists 1:r0=1 & 1:r1=0", A, F},
      {"name MP+po+lwsync\nP0: W x 1; W y 1\nP1: R y r0; lwsync; R x r1\nexists 1:r0=1 & 1:r1=0", A, F},
      {"name MP+sync+po\nP0: W x 1; sync; W y 1\nP1: R y r0; R x r1\nexists 1:r0=1 & 1:r1=0", A, F},
      {"name MP+lwsyncs\nP0: W x 1; lwsync; W y 1\nP1: R y r0; lwsync; R x r1\nexists 1:r0=1 & 1:r1=0", F, F},
      {"name MP+syncs\nP0: W x 1; sync; W y 1\nP1: R y r0; sync; R x r1\nexists 1:r0=1 & 1:r1=0", F, F},
      {"name MP+lwsync+sync\nP0: W x 1; lwsync; W y 1\nP1: R y r0; sync; R x r1\nexists 1:r0=1 & 1:r1=0", F, F},
      {"name MP+po+addr\nP0: W x 1; W y 1\nP1: R y r0; R x r1 addr=r0\nexists 1:r0=1 & 1:r1=0", A, F},
      {"name MP+lwsync+addr\nP0: W x 1; lwsync; W y 1\nP1: R y r0; R x r1 addr=r0\nexists 1:r0=1 & 1:r1=0", F, F},
      {"name MP+sync+addr\nP0: W x 1; sync; W y 1\nP1: R y r0; R x r1 addr=r0\nexists 1:r0=1 & 1:r1=0", F, F},
      {"name MP+lwsync+ctrl\nP0: W x 1; lwsync; W y 1\nP1: R y r0; ctrl r0; R x r1\nexists 1:r0=1 & 1:r1=0", A, F},
      {"name MP+sync+ctrl\nP0: W x 1; sync; W y 1\nP1: R y r0; ctrl r0; R x r1\nexists 1:r0=1 & 1:r1=0", A, F},
      {"name MP+lwsync+isync\nP0: W x 1; lwsync; W y 1\nP1: R y r0; isync; R x r1\nexists 1:r0=1 & 1:r1=0", A, F},
      {"name MP+po+ctrlisync\nP0: W x 1; W y 1\nP1: R y r0; ctrl r0; isync; R x r1\nexists 1:r0=1 & 1:r1=0", A, F},
      {"name MP+lwsync+ctrlisync\nP0: W x 1; lwsync; W y 1\nP1: R y r0; ctrl r0; isync; R x r1\nexists 1:r0=1 & 1:r1=0", F, F},
      {"name MP+sync+ctrlisync\nP0: W x 1; sync; W y 1\nP1: R y r0; ctrl r0; isync; R x r1\nexists 1:r0=1 & 1:r1=0", F, F},
      // LB: load buffering.
      {"name LB\nP0: R x r0; W y 1\nP1: R y r0; W x 1\nexists 0:r0=1 & 1:r0=1", A, F},
      {"name LB+lwsync+po\nP0: R x r0; lwsync; W y 1\nP1: R y r0; W x 1\nexists 0:r0=1 & 1:r0=1", A, F},
      {"name LB+data+po\nP0: R x r0; W y 1 data=r0\nP1: R y r0; W x 1\nexists 0:r0=1 & 1:r0=1", A, F},
      {"name LB+ctrl+po\nP0: R x r0; ctrl r0; W y 1\nP1: R y r0; W x 1\nexists 0:r0=1 & 1:r0=1", A, F},
      {"name LB+lwsyncs\nP0: R x r0; lwsync; W y 1\nP1: R y r0; lwsync; W x 1\nexists 0:r0=1 & 1:r0=1", F, F},
      {"name LB+syncs\nP0: R x r0; sync; W y 1\nP1: R y r0; sync; W x 1\nexists 0:r0=1 & 1:r0=1", F, F},
      {"name LB+addrs\nP0: R x r0; W y 1 addr=r0\nP1: R y r0; W x 1 addr=r0\nexists 0:r0=1 & 1:r0=1", F, F},
      {"name LB+datas\nP0: R x r0; W y 1 data=r0\nP1: R y r0; W x 1 data=r0\nexists 0:r0=1 & 1:r0=1", F, F},
      {"name LB+ctrls\nP0: R x r0; ctrl r0; W y 1\nP1: R y r0; ctrl r0; W x 1\nexists 0:r0=1 & 1:r0=1", F, F},
      // R.
      {"name R\nP0: W x 1; W y 1\nP1: W y 2; R x r0\nexists y=2 & 1:r0=0", A, A},
      {"name R+lwsyncs\nP0: W x 1; lwsync; W y 1\nP1: W y 2; lwsync; R x r0\nexists y=2 & 1:r0=0", A, A},
      {"name R+sync+lwsync\nP0: W x 1; sync; W y 1\nP1: W y 2; lwsync; R x r0\nexists y=2 & 1:r0=0", A, A},
      {"name R+lwsync+sync\nP0: W x 1; lwsync; W y 1\nP1: W y 2; sync; R x r0\nexists y=2 & 1:r0=0", A, F},
      {"name R+syncs\nP0: W x 1; sync; W y 1\nP1: W y 2; sync; R x r0\nexists y=2 & 1:r0=0", F, F},
      // S.
      {"name S\nP0: W x 2; W y 1\nP1: R y r0; W x 1\nexists x=2 & 1:r0=1", A, F},
      {"name S+lwsync+po\nP0: W x 2; lwsync; W y 1\nP1: R y r0; W x 1\nexists x=2 & 1:r0=1", A, F},
      {"name S+po+lwsync\nP0: W x 2; W y 1\nP1: R y r0; lwsync; W x 1\nexists x=2 & 1:r0=1", A, F},
      {"name S+lwsyncs\nP0: W x 2; lwsync; W y 1\nP1: R y r0; lwsync; W x 1\nexists x=2 & 1:r0=1", F, F},
      {"name S+lwsync+data\nP0: W x 2; lwsync; W y 1\nP1: R y r0; W x 1 data=r0\nexists x=2 & 1:r0=1", F, F},
      {"name S+sync+data\nP0: W x 2; sync; W y 1\nP1: R y r0; W x 1 data=r0\nexists x=2 & 1:r0=1", F, F},
      {"name S+syncs\nP0: W x 2; sync; W y 1\nP1: R y r0; sync; W x 1\nexists x=2 & 1:r0=1", F, F},
      // 2+2W.
      {"name 2+2W\nP0: W x 1; W y 2\nP1: W y 1; W x 2\nexists x=1 & y=1", A, F},
      {"name 2+2W+lwsyncs\nP0: W x 1; lwsync; W y 2\nP1: W y 1; lwsync; W x 2\nexists x=1 & y=1", F, F},
      {"name 2+2W+syncs\nP0: W x 1; sync; W y 2\nP1: W y 1; sync; W x 2\nexists x=1 & y=1", F, F},
      // Coherence.
      {"name CoRR1\nP0: W x 1\nP1: R x r0; R x r1\nexists 1:r0=1 & 1:r1=0", F, F},
      {"name CoWW\nP0: W x 1; W x 2\nexists x=1", F, U},
      {"name CoRW\nP0: R x r0; W x 1\nP1: W x 2\nexists 0:r0=2 & x=2", F, F},
      {"name CoWR\nP0: W x 1; R x r0\nP1: W x 2\nexists 0:r0=2 & x=1", F, F},
      // IRIW.
      {"name IRIW\nP0: W x 1\nP1: R x r0; R y r1\nP2: W y 1\nP3: R y r0; R x r1\n"
       "exists 1:r0=1 & 1:r1=0 & 3:r0=1 & 3:r1=0", A, U},
      {"name IRIW+addrs\nP0: W x 1\nP1: R x r0; R y r1 addr=r0\nP2: W y 1\nP3: R y r0; R x r1 addr=r0\n"
       "exists 1:r0=1 & 1:r1=0 & 3:r0=1 & 3:r1=0", A, U},
      {"name IRIW+lwsyncs\nP0: W x 1\nP1: R x r0; lwsync; R y r1\nP2: W y 1\nP3: R y r0; lwsync; R x r1\n"
       "exists 1:r0=1 & 1:r1=0 & 3:r0=1 & 3:r1=0", A, U},
      {"name IRIW+syncs\nP0: W x 1\nP1: R x r0; sync; R y r1\nP2: W y 1\nP3: R y r0; sync; R x r1\n"
       "exists 1:r0=1 & 1:r1=0 & 3:r0=1 & 3:r1=0", F, U},
      // WRC.
      {"name WRC\nP0: W x 1\nP1: R x r0; W y 1\nP2: R y r0; R x r1\nexists 1:r0=1 & 2:r0=1 & 2:r1=0", A, U},
      {"name WRC+addrs\nP0: W x 1\nP1: R x r0; W y 1 addr=r0\nP2: R y r0; R x r1 addr=r0\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", A, U},
      {"name WRC+data+addr\nP0: W x 1\nP1: R x r0; W y 1 data=r0\nP2: R y r0; R x r1 addr=r0\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", A, U},
      {"name WRC+po+lwsync\nP0: W x 1\nP1: R x r0; W y 1\nP2: R y r0; lwsync; R x r1\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", A, U},
      {"name WRC+ctrl+lwsync\nP0: W x 1\nP1: R x r0; ctrl r0; W y 1\nP2: R y r0; lwsync; R x r1\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", A, U},
      {"name WRC+data+lwsync\nP0: W x 1\nP1: R x r0; W y 1 data=r0\nP2: R y r0; lwsync; R x r1\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", A, U},
      {"name WRC+data+sync\nP0: W x 1\nP1: R x r0; W y 1 data=r0\nP2: R y r0; sync; R x r1\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", A, U},
      {"name WRC+lwsync+addr\nP0: W x 1\nP1: R x r0; lwsync; W y 1\nP2: R y r0; R x r1 addr=r0\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", F, U},
      {"name WRC+sync+addr\nP0: W x 1\nP1: R x r0; sync; W y 1\nP2: R y r0; R x r1 addr=r0\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", F, U},
      {"name WRC+lwsyncs\nP0: W x 1\nP1: R x r0; lwsync; W y 1\nP2: R y r0; lwsync; R x r1\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", F, U},
      {"name WRC+syncs\nP0: W x 1\nP1: R x r0; sync; W y 1\nP2: R y r0; sync; R x r1\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", F, U},
      // WWC.
      {"name WWC\nP0: W x 2\nP1: R x r0; W y 1\nP2: R y r0; W x 1\nexists x=2 & 1:r0=2 & 2:r0=1", A, U},
      {"name WWC+addrs\nP0: W x 2\nP1: R x r0; W y 1 addr=r0\nP2: R y r0; W x 1 addr=r0\n"
       "exists x=2 & 1:r0=2 & 2:r0=1", A, U},
      {"name WWC+lwsyncs\nP0: W x 2\nP1: R x r0; lwsync; W y 1\nP2: R y r0; lwsync; W x 1\n"
       "exists x=2 & 1:r0=2 & 2:r0=1", F, U},
      {"name WWC+syncs\nP0: W x 2\nP1: R x r0; sync; W y 1\nP2: R y r0; sync; W x 1\n"
       "exists x=2 & 1:r0=2 & 2:r0=1", F, U},
      // Z6.3.
      {"name Z6.3\nP0: W x 1; W y 1\nP1: W y 2; W z 1\nP2: R z r0; R x r1\nexists y=2 & 2:r0=1 & 2:r1=0", A, U},
      {"name Z6.3+lwsyncs\nP0: W x 1; lwsync; W y 1\nP1: W y 2; lwsync; W z 1\nP2: R z r0; lwsync; R x r1\n"
       "exists y=2 & 2:r0=1 & 2:r1=0", A, U},
      {"name Z6.3+lwsync+lwsync+addr\nP0: W x 1; lwsync; W y 1\nP1: W y 2; lwsync; W z 1\n"
       "P2: R z r0; R x r1 addr=r0\nexists y=2 & 2:r0=1 & 2:r1=0", A, U},
      {"name Z6.3+syncs\nP0: W x 1; sync; W y 1\nP1: W y 2; sync; W z 1\nP2: R z r0; sync; R x r1\n"
       "exists y=2 & 2:r0=1 & 2:r1=0", F, U},
      // W+RWC.
      {"name W+RWC\nP0: W x 1; W y 1\nP1: R y r0; R z r1\nP2: W z 1; R x r0\n"
       "exists 1:r0=1 & 1:r1=0 & 2:r0=0", A, U},
      {"name W+RWC+lwsyncs\nP0: W x 1; lwsync; W y 1\nP1: R y r0; lwsync; R z r1\nP2: W z 1; lwsync; R x r0\n"
       "exists 1:r0=1 & 1:r1=0 & 2:r0=0", A, U},
      {"name W+RWC+lwsync+addr+sync\nP0: W x 1; lwsync; W y 1\nP1: R y r0; R z r1 addr=r0\n"
       "P2: W z 1; sync; R x r0\nexists 1:r0=1 & 1:r1=0 & 2:r0=0", A, U},
      {"name W+RWC+syncs\nP0: W x 1; sync; W y 1\nP1: R y r0; sync; R z r1\nP2: W z 1; sync; R x r0\n"
       "exists 1:r0=1 & 1:r1=0 & 2:r0=0", F, U},
      // RWC.
      {"name RWC\nP0: W x 1\nP1: R x r0; R y r1\nP2: W y 1; R x r0\nexists 1:r0=1 & 1:r1=0 & 2:r0=0", A, U},
      {"name RWC+lwsyncs\nP0: W x 1\nP1: R x r0; lwsync; R y r1\nP2: W y 1; lwsync; R x r0\n"
       "exists 1:r0=1 & 1:r1=0 & 2:r0=0", A, U},
      {"name RWC+lwsync+sync\nP0: W x 1\nP1: R x r0; lwsync; R y r1\nP2: W y 1; sync; R x r0\n"
       "exists 1:r0=1 & 1:r1=0 & 2:r0=0", A, U},
      {"name RWC+syncs\nP0: W x 1\nP1: R x r0; sync; R y r1\nP2: W y 1; sync; R x r0\n"
       "exists 1:r0=1 & 1:r1=0 & 2:r0=0", F, U},
      // ISA2.
      {"name ISA2\nP0: W x 1; W y 1\nP1: R y r0; W z 1\nP2: R z r0; R x r1\nexists 1:r0=1 & 2:r0=1 & 2:r1=0", A, U},
      {"name ISA2+lwsync+lwsync+po\nP0: W x 1; lwsync; W y 1\nP1: R y r0; lwsync; W z 1\nP2: R z r0; R x r1\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", A, U},
      {"name ISA2+lwsyncs\nP0: W x 1; lwsync; W y 1\nP1: R y r0; lwsync; W z 1\nP2: R z r0; lwsync; R x r1\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", F, U},
      {"name ISA2+lwsync+data+addr\nP0: W x 1; lwsync; W y 1\nP1: R y r0; W z 1 data=r0\n"
       "P2: R z r0; R x r1 addr=r0\nexists 1:r0=1 & 2:r0=1 & 2:r1=0", F, U},
      {"name ISA2+sync+data+addr\nP0: W x 1; sync; W y 1\nP1: R y r0; W z 1 data=r0\n"
       "P2: R z r0; R x r1 addr=r0\nexists 1:r0=1 & 2:r0=1 & 2:r1=0", F, U},
      {"name ISA2+syncs\nP0: W x 1; sync; W y 1\nP1: R y r0; sync; W z 1\nP2: R z r0; sync; R x r1\n"
       "exists 1:r0=1 & 2:r0=1 & 2:r1=0", F, U},
  };
  return *kSuite;
}

}  // namespace hostipi
}  // namespace kvmbed
