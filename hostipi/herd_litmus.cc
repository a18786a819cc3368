// herdtools7 .litmus (POWER) to kvmbed's litmus form (herd_litmus.h).
#include "hostipi/herd_litmus.h"

#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kvmbed {
namespace hostipi {

namespace {

constexpr int kMaxIrRegs = 16;

// What a PPC register holds during the symbolic pass over one thread.
struct Sym {
  enum Kind { kUnset, kConst, kAddr, kLoaded } kind = kUnset;
  int64_t value = 0;  // kConst
  int loc = -1;       // kAddr
  int reg = -1;       // kLoaded: the IR register
  std::set<int> deps; // IR registers this value depends on (besides reg)
  std::set<int> DepRegs() const {
    std::set<int> d = deps;
    if (kind == kLoaded) d.insert(reg);
    return d;
  }
};

absl::Status Unsupported(absl::string_view what) {
  return absl::UnimplementedError(std::string(what));
}

absl::StatusOr<int> PpcReg(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  int r;
  if (!absl::ConsumePrefix(&s, "r") || !absl::SimpleAtoi(s, &r) || r < 0 || r > 31) {
    return Unsupported(absl::StrCat("operand '", s, "' is not a register"));
  }
  return r;
}

}  // namespace

std::map<std::string, Verdict> ParseHerdAllowed(const std::string& text) {
  std::map<std::string, Verdict> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, '|');
    if (parts.size() < 2) continue;
    const std::string name(absl::StripAsciiWhitespace(parts[0]));
    std::vector<absl::string_view> cols = absl::StrSplit(parts[1], ' ', absl::SkipEmpty());
    if (name.empty() || cols.empty()) continue;
    if (cols[0] == "Ok") out[name] = Verdict::kAllowed;
    if (cols[0] == "No") out[name] = Verdict::kForbidden;
  }
  return out;
}

std::set<std::string> ParseHerdSeenOnHardware(const std::string& text) {
  std::set<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, '|');
    if (parts.size() < 2) continue;
    const std::string name(absl::StripAsciiWhitespace(parts[0]));
    std::vector<absl::string_view> cols = absl::StrSplit(parts[1], ' ', absl::SkipEmpty());
    if (!name.empty() && cols.size() >= 2 && cols[1] == "Ok") out.insert(name);
  }
  return out;
}

absl::StatusOr<ParsedLitmus> ConvertHerdPowerLitmus(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ParsedLitmus t;
  size_t i = 0;
  for (; i < lines.size(); ++i) {
    absl::string_view l = absl::StripAsciiWhitespace(lines[i]);
    if (absl::ConsumePrefix(&l, "PPC ")) {
      t.name = std::string(absl::StripAsciiWhitespace(l));
      break;
    }
    if (!l.empty()) return Unsupported("not a POWER litmus test (no 'PPC name' line)");
  }
  if (t.name.empty()) return Unsupported("no 'PPC name' line");
  // The init block.
  std::string init;
  for (; i < lines.size() && lines[i].find('{') == std::string::npos; ++i) {
  }
  for (; i < lines.size(); ++i) {
    absl::StrAppend(&init, lines[i], " ");
    if (lines[i].find('}') != std::string::npos) {
      ++i;
      break;
    }
  }
  init = absl::StrReplaceAll(init, {{"{", " "}, {"}", " "}});
  std::map<std::string, int> locs;
  auto loc_of = [&](const std::string& name) {
    auto [it, fresh] = locs.emplace(name, static_cast<int>(locs.size()));
    if (fresh) {
      t.program.locations.push_back(name);
      t.program.initial.push_back(0);
    }
    return it->second;
  };
  std::map<std::pair<int, int>, Sym> init_regs;  // (thread, ppc reg)
  for (absl::string_view item : absl::StrSplit(init, ';')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos) return Unsupported(absl::StrCat("init item '", item, "'"));
    std::string lhs(absl::StripAsciiWhitespace(item.substr(0, eq)));
    std::string rhs(absl::StripAsciiWhitespace(item.substr(eq + 1)));
    const size_t colon = lhs.find(':');
    if (colon == std::string::npos) {
      int64_t v;
      if (!absl::SimpleAtoi(rhs, &v)) return Unsupported(absl::StrCat("init item '", item, "'"));
      t.program.initial[loc_of(lhs)] = v;
      continue;
    }
    int thread;
    if (!absl::SimpleAtoi(lhs.substr(0, colon), &thread)) {
      return Unsupported(absl::StrCat("init item '", item, "'"));
    }
    absl::StatusOr<int> r = PpcReg(lhs.substr(colon + 1));
    if (!r.ok()) return r.status();
    Sym s;
    int64_t v;
    if (absl::SimpleAtoi(rhs, &v)) {
      s.kind = Sym::kConst;
      s.value = v;
    } else {
      s.kind = Sym::kAddr;
      s.loc = loc_of(rhs);
    }
    init_regs[{thread, *r}] = s;
  }
  // The program table, up to "exists".
  std::vector<std::vector<std::string>> columns;
  bool header = true;
  for (; i < lines.size(); ++i) {
    absl::string_view l = absl::StripAsciiWhitespace(lines[i]);
    if (l.empty()) continue;
    if (absl::StartsWith(l, "exists") || absl::StartsWith(l, "~exists") ||
        absl::StartsWith(l, "forall") || absl::StartsWith(l, "locations")) {
      break;
    }
    absl::ConsumeSuffix(&l, ";");
    std::vector<std::string> cells = absl::StrSplit(l, '|');
    if (header) {
      columns.resize(cells.size());
      header = false;
      continue;
    }
    if (cells.size() != columns.size()) return Unsupported("ragged program table");
    for (size_t c = 0; c < cells.size(); ++c) {
      std::string cell(absl::StripAsciiWhitespace(cells[c]));
      if (!cell.empty()) columns[c].push_back(cell);
    }
  }
  if (i >= lines.size() || !absl::StartsWith(absl::StripAsciiWhitespace(lines[i]), "exists")) {
    return Unsupported("only 'exists' conditions");
  }
  std::string cond;
  for (; i < lines.size(); ++i) absl::StrAppend(&cond, lines[i], " ");
  {
    absl::string_view c = absl::StripAsciiWhitespace(cond);
    absl::ConsumePrefix(&c, "exists");
    cond = std::string(c);
  }
  if (absl::StrContains(cond, "\\/") || absl::StrContains(cond, "not") ||
      absl::StrContains(cond, "true") || absl::StrContains(cond, "[")) {
    return Unsupported("condition is not a conjunction of equalities");
  }
  cond = absl::StrReplaceAll(cond, {{"(", " "}, {")", " "}, {";", " "}});

  // Symbolic pass per thread.
  std::vector<std::map<int, Sym>> finals(columns.size());
  int max_regs = 0;
  for (size_t th = 0; th < columns.size(); ++th) {
    std::map<int, Sym> regs;
    for (const auto& [key, s] : init_regs) {
      if (key.first == static_cast<int>(th)) regs[key.second] = s;
    }
    std::vector<power::Instr> prog;
    int next_ir = 0;
    std::set<int> compare_deps;
    bool compared = false;
    const std::vector<std::string>& code = columns[th];
    for (size_t k = 0; k < code.size(); ++k) {
      const std::string& line = code[k];
      if (absl::EndsWith(line, ":")) continue;  // a label (checked by its branch)
      const size_t sp = line.find(' ');
      const std::string op = line.substr(0, sp);
      std::vector<std::string> ops;
      if (sp != std::string::npos) {
        for (absl::string_view o : absl::StrSplit(line.substr(sp + 1), ',')) {
          ops.emplace_back(absl::StripAsciiWhitespace(o));
        }
      }
      auto reg = [&](size_t n) -> absl::StatusOr<int> {
        if (n >= ops.size()) return Unsupported(absl::StrCat("'", line, "': missing operand"));
        return PpcReg(ops[n]);
      };
      // "0(rA)" -> rA; other offsets are unsupported.
      auto base = [&](size_t n) -> absl::StatusOr<int> {
        if (n >= ops.size()) return Unsupported(absl::StrCat("'", line, "': missing operand"));
        absl::string_view o = ops[n];
        if (!absl::ConsumePrefix(&o, "0(") || !absl::ConsumeSuffix(&o, ")")) {
          return Unsupported(absl::StrCat("'", line, "': only 0(rA) addressing"));
        }
        return PpcReg(o);
      };
      power::Instr in;
      in.text = line;
      if (op == "li") {
        absl::StatusOr<int> d = reg(0);
        int64_t v;
        if (!d.ok() || ops.size() < 2 || !absl::SimpleAtoi(ops[1], &v)) {
          return Unsupported(absl::StrCat("'", line, "'"));
        }
        Sym s;
        s.kind = Sym::kConst;
        s.value = v;
        regs[*d] = s;
        continue;
      }
      if (op == "mr") {
        absl::StatusOr<int> d = reg(0), a = reg(1);
        if (!d.ok() || !a.ok()) return Unsupported(absl::StrCat("'", line, "'"));
        regs[*d] = regs[*a];
        continue;
      }
      if (op == "xor") {
        absl::StatusOr<int> d = reg(0), a = reg(1), b = reg(2);
        if (!d.ok() || !a.ok() || !b.ok() || *a != *b) {
          return Unsupported(absl::StrCat("'", line, "': only xor rD,rA,rA"));
        }
        Sym s;
        s.kind = Sym::kConst;
        s.deps = regs[*a].DepRegs();
        regs[*d] = s;
        continue;
      }
      if (op == "addi") {
        absl::StatusOr<int> d = reg(0), a = reg(1);
        int64_t v;
        if (!d.ok() || !a.ok() || ops.size() < 3 || !absl::SimpleAtoi(ops[2], &v) ||
            regs[*a].kind != Sym::kConst) {
          return Unsupported(absl::StrCat("'", line, "': addi only on constants"));
        }
        Sym s = regs[*a];
        s.value += v;
        regs[*d] = s;
        continue;
      }
      if (op == "cmpw" || op == "cmpwi") {
        absl::StatusOr<int> a = reg(0);
        if (!a.ok()) return a.status();
        compare_deps = regs[*a].DepRegs();
        if (op == "cmpw") {
          absl::StatusOr<int> b = reg(1);
          if (!b.ok()) return b.status();
          for (int r : regs[*b].DepRegs()) compare_deps.insert(r);
        }
        compared = true;
        continue;
      }
      if (op == "beq" || op == "bne") {
        // Only a branch to the very next line (a control dependency).
        if (!compared || ops.empty() || k + 1 >= code.size() || code[k + 1] != ops[0] + ":") {
          return Unsupported(absl::StrCat("'", line, "': only a branch to the next label"));
        }
        for (int r : compare_deps) {
          power::Instr b;
          b.kind = power::InstrKind::kBranch;
          b.reg = r;
          b.cond = power::Cond::kEq;
          b.value = 0;
          b.target = static_cast<int>(prog.size()) + 1;
          b.text = line;
          prog.push_back(b);
        }
        compared = false;
        continue;
      }
      if (op == "lwsync" || op == "sync" || op == "isync") {
        in.kind = op == "lwsync" ? power::InstrKind::kLwsync
                  : op == "sync" ? power::InstrKind::kSync
                                 : power::InstrKind::kIsync;
        prog.push_back(in);
        continue;
      }
      // Address: 0(rA), or rI,rA indexed (one is the location, the other a
      // zero carrying dependencies).
      auto address = [&](size_t first, bool indexed, int* loc,
                         std::vector<int>* deps) -> absl::Status {
        std::vector<int> rs;
        if (indexed) {
          absl::StatusOr<int> a = reg(first), b = reg(first + 1);
          if (!a.ok() || !b.ok()) return Unsupported(absl::StrCat("'", line, "'"));
          rs = {*a, *b};
        } else {
          absl::StatusOr<int> a = base(first);
          if (!a.ok()) return a.status();
          rs = {*a};
        }
        *loc = -1;
        std::set<int> d;
        for (int r : rs) {
          const Sym& s = regs[r];
          if (s.kind == Sym::kAddr) {
            if (*loc >= 0) return Unsupported(absl::StrCat("'", line, "': two addresses"));
            *loc = s.loc;
          } else if (s.kind != Sym::kConst || s.value != 0) {
            return Unsupported(absl::StrCat("'", line, "': computed address"));
          }
          for (int x : s.DepRegs()) d.insert(x);
        }
        if (*loc < 0) return Unsupported(absl::StrCat("'", line, "': no address"));
        deps->assign(d.begin(), d.end());
        return absl::OkStatus();
      };
      if (op == "lwz" || op == "lwzx") {
        absl::StatusOr<int> d = reg(0);
        if (!d.ok()) return d.status();
        in.kind = power::InstrKind::kLoad;
        if (absl::Status st = address(1, op == "lwzx", &in.loc, &in.addr_deps); !st.ok()) return st;
        if (next_ir >= kMaxIrRegs) return Unsupported("too many loads");
        in.reg = next_ir++;
        Sym s;
        s.kind = Sym::kLoaded;
        s.reg = in.reg;
        regs[*d] = s;
        prog.push_back(in);
        continue;
      }
      if (op == "stw" || op == "stwx") {
        absl::StatusOr<int> v = reg(0);
        if (!v.ok()) return v.status();
        in.kind = power::InstrKind::kStore;
        if (absl::Status st = address(1, op == "stwx", &in.loc, &in.addr_deps); !st.ok()) return st;
        const Sym& s = regs[*v];
        if (s.kind == Sym::kConst) {
          in.value = s.value;
          in.data_deps.assign(s.deps.begin(), s.deps.end());
        } else if (s.kind == Sym::kLoaded) {
          in.value_reg = s.reg;
          in.data_deps.assign(s.deps.begin(), s.deps.end());
        } else {
          return Unsupported(absl::StrCat("'", line, "': stores an address"));
        }
        prog.push_back(in);
        continue;
      }
      return Unsupported(absl::StrCat("instruction '", op, "'"));
    }
    max_regs = std::max(max_regs, next_ir);
    finals[th] = regs;
    t.program.threads.push_back(std::move(prog));
  }
  t.program.registers = std::max(max_regs, 1);
  for (absl::string_view atom : absl::StrSplit(cond, "/\\")) {
    atom = absl::StripAsciiWhitespace(atom);
    if (atom.empty()) continue;
    const size_t eq = atom.find('=');
    ParsedLitmus::Atom a;
    if (eq == absl::string_view::npos) return Unsupported(absl::StrCat("condition '", atom, "'"));
    std::string lhs(absl::StripAsciiWhitespace(atom.substr(0, eq)));
    std::string rhs(absl::StripAsciiWhitespace(atom.substr(eq + 1)));
    if (!absl::SimpleAtoi(rhs, &a.value)) return Unsupported(absl::StrCat("condition '", atom, "'"));
    const size_t colon = lhs.find(':');
    if (colon == std::string::npos) {
      auto it = locs.find(lhs);
      if (it == locs.end()) return Unsupported(absl::StrCat("condition on unknown '", lhs, "'"));
      a.thread = -1;
      a.index = it->second;
    } else {
      absl::string_view th = absl::string_view(lhs).substr(0, colon);
      absl::ConsumePrefix(&th, "P");
      absl::StatusOr<int> r = PpcReg(lhs.substr(colon + 1));
      if (!absl::SimpleAtoi(th, &a.thread) || !r.ok() || a.thread < 0 ||
          a.thread >= static_cast<int>(finals.size())) {
        return Unsupported(absl::StrCat("condition '", atom, "'"));
      }
      const Sym& s = finals[a.thread][*r];
      if (s.kind != Sym::kLoaded) {
        return Unsupported(absl::StrCat("condition on a register no load wrote: '", atom, "'"));
      }
      a.index = s.reg;
    }
    t.exists.push_back(a);
  }
  if (t.exists.empty()) return Unsupported("empty condition");
  if (absl::Status st = power::ValidateProgram(t.program); !st.ok()) {
    return Unsupported(absl::StrCat("converted program: ", st.message()));
  }
  return t;
}

}  // namespace hostipi
}  // namespace kvmbed
