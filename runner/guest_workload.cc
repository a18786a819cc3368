#include "runner/guest_workload.h"

namespace kvmbed {

const char* GuestWorkloadName(GuestWorkload workload) {
  return kGuestWorkloadNames.Name(workload);
}

absl::StatusOr<GuestWorkload> ParseGuestWorkload(absl::string_view text) {
  return kGuestWorkloadNames.ParseOr(text, "workload");
}

}  // namespace kvmbed
