#include "hostipi/stall_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvmbed {
namespace hostipi {

const char* StallVerdictName(StallVerdict v) {
  return v == StallVerdict::kLost ? "LOST" : "SLOW";
}

std::string FormatStallHeadline(const StallReport& r) {
  if (r.kind == StallReport::Kind::kUnstuck) {
    return absl::StrFormat(
        "csd: CSD lock (#%d) got unstuck on CPU#%02d after %d %s: CPU#%02d "
        "released it (verdict: %s).",
        r.number, r.waiter_cpu, r.waited_ns, r.clock_unit, r.target_cpu,
        StallVerdictName(r.verdict));
  }
  return absl::StrFormat(
      "csd: %s non-responsive CSD lock (#%d) on CPU#%d, waiting %d %s for "
      "CPU#%02d %s(0x%x).",
      r.kind == StallReport::Kind::kDetected ? "Detected" : "Continued",
      r.number, r.waiter_cpu, r.waited_ns, r.clock_unit, r.target_cpu, r.func,
      r.info);
}

std::string FormatStallReport(const StallReport& r) {
  std::string out = absl::StrCat(FormatStallHeadline(r), "\n");
  if (r.kind == StallReport::Kind::kUnstuck) return out;
  switch (r.activity) {
    case TargetActivity::kThisRequest:
      absl::StrAppendFormat(&out, "\tcsd: CPU#%02d is handling this request.\n",
                            r.target_cpu);
      break;
    case TargetActivity::kPriorRequest:
      absl::StrAppendFormat(
          &out, "\tcsd: CPU#%02d is handling a prior request: %s from CPU#%02d.\n",
          r.target_cpu, r.prior_func, r.prior_sender);
      break;
    case TargetActivity::kNothing:
      absl::StrAppendFormat(
          &out, "\tcsd: CPU#%02d is handling no request (unresponsive).\n",
          r.target_cpu);
      break;
  }
  for (const auto& [key, value] : r.facts) {
    absl::StrAppend(&out, "\t", key, ": ", value, "\n");
  }
  absl::StrAppend(&out, "\tverdict: ", StallVerdictName(r.verdict), " - ",
                  r.verdict_reason, "\n");
  if (!r.trace.empty()) {
    absl::StrAppend(&out, "\ttrace of the CPUs involved (oldest first):\n");
    for (const std::string& line : r.trace) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace hostipi
}  // namespace kvmbed
