#include "hostipi/stall_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

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

std::string StallReportToJson(const StallReport& r) {
  nlohmann::json j;
  j["event"] = "csd_stall";
  j["kind"] = r.kind == StallReport::Kind::kDetected    ? "detected"
              : r.kind == StallReport::Kind::kContinued ? "continued"
                                                        : "unstuck";
  j["number"] = r.number;
  j["waiter_cpu"] = r.waiter_cpu;
  j["target_cpu"] = r.target_cpu;
  j["waited"] = r.waited_ns;
  j["clock_unit"] = r.clock_unit;
  j["func"] = r.func;
  j["info"] = r.info;
  j["activity"] = r.activity == TargetActivity::kThisRequest    ? "this"
                  : r.activity == TargetActivity::kPriorRequest ? "prior"
                                                                : "nothing";
  if (r.activity == TargetActivity::kPriorRequest) {
    j["prior_sender"] = r.prior_sender;
    j["prior_func"] = r.prior_func;
  }
  nlohmann::json facts = nlohmann::json::object();
  for (const auto& [key, value] : r.facts) facts[key] = value;
  j["facts"] = std::move(facts);
  j["verdict"] = StallVerdictName(r.verdict);
  j["verdict_reason"] = r.verdict_reason;
  j["trace"] = r.trace;
  return j.dump();
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
          &out,
          "\tcsd: CPU#%02d is handling a prior request: %s from CPU#%02d.\n",
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

StallEventLine StallEvent(const StallReport& r, const std::string& plane,
                          const std::string& verdict, const std::string& text) {
  StallEventLine line;
  line.fields = {{"plane", plane},
                 {"seq", r.number},
                 {"waiter", r.waiter_cpu},
                 {"target", r.target_cpu},
                 {"wait_ns", r.waited_ns},
                 {"verdict", verdict},
                 {"reason", r.verdict_reason}};
  if (r.kind == StallReport::Kind::kUnstuck) {
    line.type = "stall_cleared";
    return line;
  }
  line.type = "stall";
  line.fields["func"] = r.func;
  line.fields["info"] = absl::StrFormat("0x%x", r.info);  // a string, as the guest's
  line.fields["continued"] = r.kind == StallReport::Kind::kContinued;
  line.fields["activity"] = r.activity == TargetActivity::kThisRequest    ? "this_request"
                            : r.activity == TargetActivity::kPriorRequest ? "prior_request"
                                                                          : "nothing";
  line.fields["report"] = text;
  return line;
}

}  // namespace hostipi
}  // namespace kvmbed
