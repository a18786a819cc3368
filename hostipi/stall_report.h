// Kernel-like csd_lock_wait() stall reports, shared by the host plane
// (hostipi/host_ipi.cc) and the guest plane (runner/smp_run.cc):
//
//   csd: Detected non-responsive CSD lock (#N) on CPU#W, waiting T ns for CPU#D
//   func(info). 	csd: CPU#D is handling this request | a prior request from
//   CPU#S | nothing (unresponsive). 	<facts only a hypervisor can see, one "key:
//   value" per line> 	verdict: LOST|SLOW - why 	trace: <CPU-by-CPU lines> csd:
//   Continued non-responsive CSD lock (#N) ... csd: CSD lock (#N) got unstuck
//   on CPU#W after T ns: CPU#D released it (verdict: SLOW).
//
// A wait past the threshold is SLOW unless the evidence says the IPI was
// lost (see docs/DESIGN.md "Lost or slow"); only LOST fails a run.
//
// Threading: plain value types and pure functions.
#ifndef KVMBED_HOSTIPI_STALL_REPORT_H_
#define KVMBED_HOSTIPI_STALL_REPORT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"

namespace kvmbed {
namespace hostipi {

enum class StallVerdict { kSlow, kLost };
// "SLOW" / "LOST".
const char* StallVerdictName(StallVerdict v);

// What the target CPU is doing about the stuck csd.
enum class TargetActivity { kThisRequest, kPriorRequest, kNothing };

struct StallReport {
  enum class Kind { kDetected, kContinued, kUnstuck };
  Kind kind = Kind::kDetected;
  int number = 0;  // #N, one per stall episode
  int waiter_cpu = -1;
  int target_cpu = -1;
  int64_t waited_ns = 0;  // a virtual clock in emulated runs
  std::string clock_unit = "ns";
  std::string func;  // e.g. "do_nothing"
  uint64_t info = 0;
  TargetActivity activity = TargetActivity::kNothing;
  int prior_sender = -1;  // kPriorRequest: whose csd the target is running
  std::string prior_func;
  // Plane-specific facts, printed in order as "\t<key>: <value>".
  std::vector<std::pair<std::string, std::string>> facts;
  StallVerdict verdict = StallVerdict::kSlow;
  std::string verdict_reason;
  // Pre-formatted CPU-by-CPU trace lines (may be empty).
  std::vector<std::string> trace;
};

// The first line only ("csd: Detected non-responsive CSD lock ...").
std::string FormatStallHeadline(const StallReport& r);
// One JSON object (one line) for the run's JSON-lines event log:
// {"event":"csd_stall","kind":"detected"|"continued"|"unstuck",...}.
std::string StallReportToJson(const StallReport& r);
// The whole report, lines ending in '\n'. Unstuck reports are one line.
std::string FormatStallReport(const StallReport& r);

// The event log's line for report `r` (docs/events.md, base/event_schema.h):
// type "stall", or "stall_cleared" for an unstuck report, with plane, seq,
// waiter, target, wait_ns and verdict ("lost", "slow" or "pending", as the
// plane judges it now); a stall also carries func, info (hex), continued,
// activity, reason and the printed `text`. Planes add their own fields (vm).
struct StallEventLine {
  std::string type;
  nlohmann::json fields;
};
StallEventLine StallEvent(const StallReport& r, const std::string& plane,
                          const std::string& verdict, const std::string& text);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_STALL_REPORT_H_
