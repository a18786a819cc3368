// Memory sizes as profiles write them (64M, 4G; binary units) and the
// host's RAM (configs/profile.h).
#include "configs/profile.h"

#include <sys/sysinfo.h>

#include <map>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/input.h"

namespace kvmbed {
uint64_t HostRamBytes() {
  struct sysinfo info;
  if (sysinfo(&info) != 0) return 0;
  return static_cast<uint64_t>(info.totalram) * info.mem_unit;
}

absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text) {
  std::string t(absl::StripAsciiWhitespace(text));
  size_t digits = 0;
  while (digits < t.size() && absl::ascii_isdigit(t[digits])) ++digits;
  constexpr char kHint[] =
      "write bytes or a number with K, M, G or T "
      "(binary: 1K = 1024), e.g. 64M or 4G";
  if (digits == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", Excerpt(t), "' is not a memory size; ", kHint));
  }
  uint64_t number = 0;
  if (!absl::SimpleAtoi(t.substr(0, digits), &number)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", Excerpt(t), "' is too large; ", kHint));
  }
  std::string unit = t.substr(digits);
  static const auto* units = new std::map<std::string, int>{
      {"", 0},     {"B", 0},  {"K", 10},   {"k", 10},  {"KiB", 10},
      {"M", 20},   {"m", 20}, {"MiB", 20}, {"G", 30},  {"g", 30},
      {"GiB", 30}, {"T", 40}, {"t", 40},   {"TiB", 40}};
  auto it = units->find(unit);
  if (it == units->end()) {
    std::string upper = absl::AsciiStrToUpper(unit);
    if (upper == "KB" || upper == "MB" || upper == "GB" || upper == "TB") {
      return absl::InvalidArgumentError(absl::StrFormat(
          "'%s': the unit %s is ambiguous (powers of 1000 or 1024); write "
          "%d%c for binary units (1%c = 2^%d bytes)",
          Excerpt(t), unit, number, upper[0], upper[0],
          upper[0] == 'K'   ? 10
          : upper[0] == 'M' ? 20
          : upper[0] == 'G' ? 30
                            : 40));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("'", Excerpt(t), "' has an unknown unit '", Excerpt(unit), "'; ", kHint));
  }
  int shift = it->second;
  if (number == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory must be larger than 0; ", kHint));
  }
  if (shift > 0 && number > (~uint64_t{0} >> shift)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", Excerpt(t), "' is too large; ", kHint));
  }
  uint64_t bytes = number << shift;
  if (bytes % 4096 != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d bytes is not a whole number of 4 KiB pages; round it, e.g. to "
        "%d bytes",
        bytes, (bytes + 4095) / 4096 * 4096));
  }
  return bytes;
}

std::string FormatMemorySize(uint64_t bytes) {
  static const char kSuffix[] = {'T', 'G', 'M', 'K'};
  for (int i = 0; i < 4; ++i) {
    int shift = 40 - 10 * i;
    uint64_t unit = uint64_t{1} << shift;
    if (bytes != 0 && bytes % unit == 0) {
      return absl::StrCat(bytes >> shift, std::string(1, kSuffix[i]));
    }
  }
  return absl::StrCat(bytes);
}

}  // namespace kvmbed
