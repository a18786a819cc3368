// The catalogue bench (litmus_catalogue.h).
#include "hostipi/litmus_catalogue.h"

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hostipi/herd_litmus.h"
#include "hostipi/litmus.h"

namespace kvmbed {
namespace hostipi {

const std::vector<SamplingKnobs>& CatalogueKnobs() {
  // The defaults (what the protocol runs use); stores held long with many
  // out-of-order loads (MP, SB, R shapes); stores visible fast with loads
  // that mostly read old values, frequent coherence drops and later CPUs
  // starting late (shapes whose outcome needs one write to reach CPUs at
  // different times along a chain: IRIW, WRC, RWC, W+RWC, ISA2); slow
  // stores (DETOUR); then half the iterations swarm (LitmusOptions::swarm:
  // every iteration its own knobs, CPU weights and pauses), which is what
  // reaches the rarer coherence detours. The four swarm shares differ only
  // in their seed.
  static const auto* k = new std::vector<SamplingKnobs>{
      {0.25, 0.1, 0.25, 0, 0}, {0.05, 0.5, 0.25, 4, 0}, {0.6, 0.9, 0.5, 12, 0},
      {0.3, 0.5, 0.5, 4, 0.3}, {0.25, 0.1, 0.25, 0, 0, true}, {0.25, 0.1, 0.25, 0, 0, true},
      {0.25, 0.1, 0.25, 0, 0, true}, {0.25, 0.1, 0.25, 0, 0, true}};
  return *k;
}

absl::StatusOr<CatalogueResult> RunCatalogue(const CatalogueOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  DIR* d = opendir(o.dir.c_str());
  if (d == nullptr) return absl::InvalidArgumentError(absl::StrCat("cannot open directory ", o.dir));
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (absl::EndsWith(n, ".litmus")) files.push_back(n);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  if (o.limit > 0 && static_cast<int>(files.size()) > o.limit) files.resize(o.limit);
  CatalogueResult res;
  for (const std::string& f : files) {
    std::ifstream in(o.dir + "/" + f);
    std::stringstream ss;
    ss << in.rdbuf();
    ++res.files;
    absl::StatusOr<ParsedLitmus> t = ConvertHerdPowerLitmus(ss.str());
    if (!t.ok()) {
      // Group by the kind of reason: drop the quoted source line.
      std::string reason(t.status().message());
      if (!reason.empty() && reason[0] == '\'') {
        const size_t end = reason.find("': ");
        if (end != std::string::npos) reason = reason.substr(end + 3);
      }
      if (absl::StartsWith(reason, "condition '")) reason = "condition form";
      ++res.unsupported[reason];
      continue;
    }
    CatalogueRow row;
    row.name = t->name;
    auto it = o.expect.find(t->name);
    if (it != o.expect.end()) row.expect = it->second;
    row.hardware = o.seen_on_hardware.count(t->name) > 0;
    if (o.max_states <= 0) {
      row.explorer = "skipped";
    } else {
      power::ExploreOptions eo;
      eo.want_trace = false;
      eo.max_states = o.max_states;
      // herd's model has no window: make it hold a whole thread, so the
      // window bound never forbids what POWER allows (long MP+PPO chains).
      for (const auto& th : t->program.threads) {
        eo.window = std::max(eo.window, static_cast<int>(th.size()));
      }
      absl::StatusOr<power::ExploreResult> x = power::Explore(t->program, eo);
      if (!x.ok()) return x.status();
      row.states = x->states;
      if (!x->complete) {
        row.explorer = "limit";
      } else {
        bool reach = false;
        for (const power::Final& fin : x->outcomes) reach |= t->Matches(fin);
        row.explorer = reach ? "allowed" : "forbidden";
      }
    }
    absl::StatusOr<LitmusTest> lt = ToSampledTest(*t);
    if (lt.ok() && o.iterations > 0) {
      row.sampled = true;
      const std::vector<SamplingKnobs>& knobs = CatalogueKnobs();
      for (size_t k = 0; k < knobs.size(); ++k) {
        LitmusOptions lo;
        lo.run.mode = OrderingMode::kEmulatedPower;
        lo.run.seed = o.seed + k;
        lo.run.drain_probability = knobs[k].drain;
        lo.run.stale_load_probability = knobs[k].stale;
        lo.run.coherence_drop_probability = knobs[k].drop;
        lo.run.slow_store_probability = knobs[k].slow;
        lo.start_skew = knobs[k].skew;
        lo.swarm = knobs[k].swarm;
        // Split the iterations over the knob settings (the first takes the rest).
        lo.iterations = o.iterations / static_cast<int64_t>(knobs.size());
        if (k == 0) lo.iterations += o.iterations % static_cast<int64_t>(knobs.size());
        if (lo.iterations <= 0) continue;
        lo.time_budget = absl::Seconds(10);
        // Seen or not is what the catalogue reports: stop at the first
        // (forbidden tests, never seen, run every iteration).
        if (o.stop_when_seen) {
          if (row.seen > 0) break;
          lo.stop_after_interesting = 1;
        }
        absl::StatusOr<LitmusResult> r = RunLitmus(*lt, lo);
        if (!r.ok()) return r.status();
        row.seen += r->interesting;
        row.iterations += r->iterations;
      }
      // A test herd allows that these did not show: a longer swarm run.
      if (o.rare_iterations > 0 && row.seen == 0 && row.expect == Verdict::kAllowed) {
        LitmusOptions lo;
        lo.run.mode = OrderingMode::kEmulatedPower;
        lo.run.seed = o.seed + knobs.size();
        lo.swarm = true;
        lo.iterations = o.rare_iterations;
        lo.stop_after_interesting = 1;
        lo.time_budget = absl::Seconds(30);
        absl::StatusOr<LitmusResult> r = RunLitmus(*lt, lo);
        if (!r.ok()) return r.status();
        row.seen += r->interesting;
        row.iterations += r->iterations;
        row.rare = true;
      }
    }
    if (o.on_row) o.on_row(row);
    res.rows.push_back(std::move(row));
  }
  res.wall_time = absl::FromChrono(std::chrono::steady_clock::now() - start);
  return res;
}

std::string CatalogueHeader() {
  return absl::StrFormat("%-40s %-9s %-9s %9s %14s\n", "test", "expect", "explorer", "states",
                         "sampled seen");
}

std::string FormatCatalogueRow(const CatalogueRow& row) {
  return absl::StrFormat("%-40s %-9s %-9s %9d %14s\n", row.name, VerdictName(row.expect),
                         row.explorer, row.states,
                         row.sampled ? absl::StrCat(row.seen, "/", row.iterations) : "-");
}

CatalogueSummary Summarize(const CatalogueResult& r) {
  CatalogueSummary m;
  m.files = r.files;
  m.converted = static_cast<int>(r.rows.size());
  for (const auto& [reason, n] : r.unsupported) m.unsupported += n;
  for (const CatalogueRow& row : r.rows) {
    if (row.expect == Verdict::kUnknown) {
      ++m.no_expectation;
    } else if (row.explorer == "limit") {
      ++m.undecided;
    } else if (row.explorer == "skipped") {
      // --max-states=0: the explorer did not run.
    } else if (row.explorer == VerdictName(row.expect)) {
      ++m.agree;
    } else {
      m.disagreements.push_back(row.name);
    }
    if (row.sampled && row.expect != Verdict::kUnknown) {
      ++m.sampled;
      if (row.expect == Verdict::kAllowed) {
        ++m.allowed;
        if (row.seen > 0) ++m.allowed_seen;
        if (row.hardware) {
          ++m.hardware;
          if (row.seen > 0) ++m.hardware_seen;
        }
        if (row.seen == 0) {
          m.allowed_unseen.push_back(row.name);
          // The family: the name up to its first '+', or without its
          // trailing digits.
          std::string fam = row.name.substr(0, row.name.find('+'));
          if (fam == row.name) {
            while (!fam.empty() && absl::ascii_isdigit(fam.back())) fam.pop_back();
          }
          ++m.missed_families[absl::StrCat(fam, row.hardware ? " (seen on hardware)" : "")];
        }
      } else {
        ++m.forbidden;
        if (row.seen > 0) m.forbidden_seen.push_back(row.name);
      }
    }
  }
  return m;
}

std::string RenderCatalogue(const CatalogueResult& r, bool rows) {
  std::string out = rows ? CatalogueHeader() : "";
  if (rows) {
    for (const CatalogueRow& row : r.rows) absl::StrAppend(&out, FormatCatalogueRow(row));
  }
  const CatalogueSummary m = Summarize(r);
  absl::StrAppendFormat(&out,
                        "\nsummary: %d files, %d converted, %d unsupported; explorer vs herd: %d agree, "
                        "%d disagree, %d undecided (state limit), %d without expectation; "
                        "sampled emulated-power: %d tests, allowed seen %d/%d (of them seen on "
                        "hardware: %d/%d), forbidden seen %d/%d; %.1f s\n",
                        m.files, m.converted, m.unsupported, m.agree,
                        static_cast<int>(m.disagreements.size()), m.undecided, m.no_expectation,
                        m.sampled, m.allowed_seen, m.allowed, m.hardware_seen, m.hardware,
                        static_cast<int>(m.forbidden_seen.size()), m.forbidden,
                        absl::ToDoubleSeconds(r.wall_time));
  for (const std::string& n : m.disagreements) absl::StrAppend(&out, "  explorer disagrees: ", n, "\n");
  for (const std::string& n : m.forbidden_seen) {
    absl::StrAppend(&out, "  sampled shows a forbidden outcome: ", n, "\n");
  }
  for (const auto& [fam, n] : m.missed_families) {
    absl::StrAppendFormat(&out, "  allowed, never sampled (%d): %s\n", n, fam);
  }
  for (const auto& [reason, n] : r.unsupported) {
    absl::StrAppendFormat(&out, "  unsupported (%d): %s\n", n, reason);
  }
  return out;
}

}  // namespace hostipi
}  // namespace kvmbed
