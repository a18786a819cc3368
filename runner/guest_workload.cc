#include "runner/guest_workload.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/input.h"

namespace kvmbed {

const char* GuestWorkloadName(GuestWorkload workload) {
  switch (workload) {
    case GuestWorkload::kIdle:
      return "idle";
    case GuestWorkload::kSpin:
      return "spin";
    case GuestWorkload::kTorture:
      return "torture";
  }
  return "?";
}

absl::StatusOr<GuestWorkload> ParseGuestWorkload(absl::string_view text) {
  for (GuestWorkload w : {GuestWorkload::kIdle, GuestWorkload::kSpin, GuestWorkload::kTorture}) {
    if (text == GuestWorkloadName(w)) return w;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", Excerpt(text), "' is not a workload; use idle, spin or torture"));
}

}  // namespace kvmbed
