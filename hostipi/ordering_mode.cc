#include "hostipi/ordering_mode.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kvmbed {
namespace hostipi {

const char* OrderingModeName(OrderingMode mode) { return kOrderingModeNames.Name(mode); }

absl::StatusOr<OrderingMode> ParseOrderingMode(absl::string_view text) {
  std::string t = absl::AsciiStrToLower(text);
  std::replace(t.begin(), t.end(), '_', '-');
  if (std::optional<OrderingMode> mode = kOrderingModeNames.Parse(t)) return *mode;
  return absl::InvalidArgumentError(absl::StrCat("unknown memory-ordering mode \"", text,
                                                 "\": use ", kOrderingModeNames.OneOf("\"", "\"")));
}

}  // namespace hostipi
}  // namespace kvmbed
