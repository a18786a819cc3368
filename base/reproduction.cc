#include "base/reproduction.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvmbed {

double Reproduction::PBound() const {
  if (!fixed.ran || fixed.hangs != 0 || fixed.operations <= 0) return 0;
  return 3.0 / static_cast<double>(fixed.operations);
}

bool Reproduction::Pass() const { return buggy.hung && fixed.ran && fixed.hangs == 0; }

std::string RenderReproduction(const Reproduction& r) {
  if (!r.rendered.empty()) return r.rendered;
  std::string out = absl::StrFormat("reproduce %s (%s)\n  bug: %s\n  fix: %s\n", r.name,
                                    r.commit, r.bug, r.fix);
  for (const std::string& n : r.notes) absl::StrAppend(&out, "  note: ", n, "\n");
  const ReproductionPhase& b = r.buggy;
  if (!b.ran) {
    absl::StrAppend(&out, "\nbuggy model: not run\n");
  } else if (b.hung) {
    absl::StrAppendFormat(&out,
                          "\nbuggy model [%s]: HUNG after %.3f s and %d %s (%.0f %s/s)\n",
                          b.kernel_model, b.seconds_to_hang, b.operations_to_hang, r.unit,
                          b.seconds > 0 ? b.operations / b.seconds : 0.0, r.unit);
    if (!b.report.empty()) absl::StrAppend(&out, b.report, b.report.back() == '\n' ? "" : "\n");
  } else {
    absl::StrAppendFormat(&out, "\nbuggy model [%s]: did NOT hang in %.3f s and %d %s\n",
                          b.kernel_model, b.seconds, b.operations, r.unit);
  }
  const ReproductionPhase& f = r.fixed;
  if (!f.ran) {
    absl::StrAppend(&out, "\nfixed model: not run\n");
  } else if (f.hangs == 0) {
    absl::StrAppendFormat(&out,
                          "\nfixed model [%s]: 0 hangs in %d %s over %.3f s (%d slow waits "
                          "that cleared); 95%% bound on the hang probability per operation: "
                          "p < 3/N = %.3g\n",
                          f.kernel_model, f.operations, r.unit, f.seconds, f.slow,
                          r.PBound());
  } else {
    absl::StrAppendFormat(&out, "\nfixed model [%s]: %d HANG(S) in %d %s over %.3f s\n",
                          f.kernel_model, f.hangs, f.operations, r.unit, f.seconds);
    if (!f.report.empty()) absl::StrAppend(&out, f.report, f.report.back() == '\n' ? "" : "\n");
  }
  absl::StrAppendFormat(&out, "\nreproduce %s: %s\n", r.name,
                        r.Pass() ? "PASS (the buggy model hangs, the fixed one stays clean)"
                                 : "FAIL");
  return out;
}

namespace {
nlohmann::json PhaseJson(const ReproductionPhase& p) {
  return {{"ran", p.ran},
          {"kernel_model", p.kernel_model},
          {"hung", p.hung},
          {"seconds", p.seconds},
          {"seconds_to_hang", p.seconds_to_hang},
          {"operations", p.operations},
          {"operations_to_hang", p.operations_to_hang},
          {"hangs", p.hangs},
          {"slow", p.slow},
          {"report", p.report}};
}
}  // namespace

nlohmann::json ReproductionToJson(const Reproduction& r) {
  if (!r.rendered_json.is_null()) return r.rendered_json;
  return {{"name", r.name},     {"commit", r.commit},         {"bug", r.bug},
          {"fix", r.fix},       {"unit", r.unit},             {"buggy", PhaseJson(r.buggy)},
          {"fixed", PhaseJson(r.fixed)}, {"p_bound", r.PBound()}, {"pass", r.Pass()},
          {"notes", r.notes}};
}

}  // namespace kvmbed
