// What the built-in guest runs (GuestSpec::workload, the profile's
// guest.workload). Parsed once where the profile is read; typed after.
//
// Threading: plain functions over a value type.
#ifndef KVMBED_RUNNER_GUEST_WORKLOAD_H_
#define KVMBED_RUNNER_GUEST_WORKLOAD_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"

namespace kvmbed {

// kIdle: halt, timer heartbeats. kSpin: a busy heartbeat loop. kTorture:
// scftorture's IPI mix and the stress workers.
enum class GuestWorkload { kIdle, kSpin, kTorture };

inline constexpr auto kGuestWorkloadNames = MakeEnumNames<GuestWorkload>({
    {GuestWorkload::kIdle, "idle"},
    {GuestWorkload::kSpin, "spin"},
    {GuestWorkload::kTorture, "torture"},
});

// "idle" / "spin" / "torture".
const char* GuestWorkloadName(GuestWorkload workload);
// The names above exactly; the error quotes (an excerpt of) `text` and lists them.
absl::StatusOr<GuestWorkload> ParseGuestWorkload(absl::string_view text);

}  // namespace kvmbed

#endif  // KVMBED_RUNNER_GUEST_WORKLOAD_H_
