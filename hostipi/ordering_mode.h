// The memory-ordering mode of the modelled host CPUs (memory_model.h says
// what each means). Parsed once where a profile or flag is read; typed after.
//
// Threading: plain functions over a value type.
#ifndef KVMBED_HOSTIPI_ORDERING_MODE_H_
#define KVMBED_HOSTIPI_ORDERING_MODE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"

namespace kvmbed {
namespace hostipi {

enum class OrderingMode { kNative, kEmulatedPower };

// The canonical spellings, the only ones a profile takes.
inline constexpr auto kOrderingModeNames = MakeEnumNames<OrderingMode>({
    {OrderingMode::kNative, "native"},
    {OrderingMode::kEmulatedPower, "emulated-power"},
});

// "native" / "emulated-power".
const char* OrderingModeName(OrderingMode mode);
// Accepts the names above in any case, and with '_' for '-'
// ("emulated_power"): the command-line flags' spelling.
absl::StatusOr<OrderingMode> ParseOrderingMode(absl::string_view text);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_ORDERING_MODE_H_
