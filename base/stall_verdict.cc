#include "base/stall_verdict.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kvmbed {
namespace stall {

const char* VerdictName(Verdict v) { return v == Verdict::kLost ? "LOST" : "SLOW"; }

Judgement Judge(const WaitEvidence& e) {
  Judgement j;
  auto may_progress = [&j](std::string why) { j.progress.push_back(std::move(why)); };
  if (!e.examined) {
    may_progress(e.unexamined_why.empty() ? "the target could not be examined" : e.unexamined_why);
  }
  if (e.target_work == TargetWork::kThisRequest) {
    may_progress("the target is running this request");
  }
  if (!e.request_queued && e.target_work == TargetWork::kNothing) {
    may_progress("the request is no longer queued (the target took it)");
  }
  if (e.interrupt_pending) may_progress("its interrupt is pending on the target");
  if (e.interrupt_in_service) may_progress("its interrupt is in service on the target");
  if (e.sender_in_flight >= 0) {
    may_progress(absl::StrCat("CPU#", e.sender_in_flight,
                              " queued on the target and has not sent its interrupt yet"));
  }
  for (const std::string& p : e.other_progress) may_progress(p);
  if (j.progress.empty()) {
    j.verdict = Verdict::kLost;
  } else {
    j.verdict = Verdict::kSlow;
    j.slow_because = absl::StrJoin(j.progress, "; ");
  }
  return j;
}

}  // namespace stall
}  // namespace kvmbed
