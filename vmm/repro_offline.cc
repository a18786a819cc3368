#include "absl/status/status.h"
#include "vmm/guest_repro.h"

namespace kvmbed {
namespace vmm {
absl::StatusOr<Reproduction> ReproduceOfflineCsdFlush(const RunSpec&, const GuestReproOptions&) {
  return absl::UnimplementedError("offline-csd-flush: not yet");
}
}  // namespace vmm
}  // namespace kvmbed
