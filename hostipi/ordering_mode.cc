#include "hostipi/ordering_mode.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kvmbed {
namespace hostipi {

const char* OrderingModeName(OrderingMode mode) {
  switch (mode) {
    case OrderingMode::kNative:
      return "native";
    case OrderingMode::kEmulatedPower:
      return "emulated-power";
  }
  return "?";
}

absl::StatusOr<OrderingMode> ParseOrderingMode(absl::string_view text) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "native") return OrderingMode::kNative;
  if (t == "emulated-power" || t == "emulated_power") {
    return OrderingMode::kEmulatedPower;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown memory-ordering mode \"", text,
                   "\": use \"native\" or \"emulated-power\""));
}

}  // namespace hostipi
}  // namespace kvmbed
