// The memory-ordering mode of the modelled host CPUs (memory_model.h says
// what each means). Parsed once where a profile or flag is read; typed after.
//
// Threading: plain functions over a value type.
#ifndef KVMBED_HOSTIPI_ORDERING_MODE_H_
#define KVMBED_HOSTIPI_ORDERING_MODE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmbed {
namespace hostipi {

enum class OrderingMode { kNative, kEmulatedPower };

// "native" / "emulated-power".
const char* OrderingModeName(OrderingMode mode);
// Accepts the names above in any case, and "emulated_power".
absl::StatusOr<OrderingMode> ParseOrderingMode(absl::string_view text);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_ORDERING_MODE_H_
