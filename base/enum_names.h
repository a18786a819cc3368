// One table per enum holding each value's name, so that the name is written
// once and both directions (value -> name, text -> value) and the list of
// allowed names in error messages come from the same place:
//
//   enum class Colour { kRed, kDarkBlue };
//   inline constexpr auto kColourNames = MakeEnumNames<Colour>({
//       {Colour::kRed, "red"},
//       {Colour::kDarkBlue, "dark-blue"},
//   });
//   kColourNames.Name(Colour::kRed)   -> "red"
//   kColourNames.Parse("dark-blue")   -> Colour::kDarkBlue (std::optional)
//   kColourNames.OneOf()              -> "red or dark-blue"
//   kColourNames.Joined("|")          -> "red|dark-blue"
//   kColourNames.ParseOr("x", "colour")
//       -> InvalidArgument "'x' is not a colour; use red or dark-blue"
//
// Parse is exact (case and spelling); callers that accept other spellings
// fold the text to a table name first. The table may also map plain integer
// codes (a guest ABI's state words) to names; Name() of a value that is not
// in the table returns `unknown`.
//
// Threading: an immutable value; every method is const and thread-safe.
#ifndef KVMBED_BASE_ENUM_NAMES_H_
#define KVMBED_BASE_ENUM_NAMES_H_

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/input.h"

namespace kvmbed {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

template <typename E, size_t N>
class EnumNames {
 public:
  static_assert(N > 0, "an enum name table needs at least one entry");

  template <size_t... I>
  constexpr EnumNames(const EnumName<E> (&entries)[N], std::index_sequence<I...>)
      : entries_{entries[I]...} {}

  // The name of `v`, or `unknown` when the table does not hold it.
  constexpr const char* Name(E v, const char* unknown = "?") const {
    for (const EnumName<E>& e : entries_) {
      if (e.value == v) return e.name;
    }
    return unknown;
  }

  // The value whose name is exactly `text`.
  constexpr std::optional<E> Parse(absl::string_view text) const {
    for (const EnumName<E>& e : entries_) {
      if (text == e.name) return e.value;
    }
    return std::nullopt;
  }

  // As Parse; otherwise InvalidArgument "'<text>' is not a <noun>; use
  // <OneOf()>" (the text as a short escaped excerpt).
  absl::StatusOr<E> ParseOr(absl::string_view text, absl::string_view noun) const {
    if (std::optional<E> v = Parse(text)) return *v;
    return absl::InvalidArgumentError(
        absl::StrCat("'", Excerpt(text), "' is not a ", noun, "; use ", OneOf()));
  }

  // Every name in table order, each wrapped as prefix+name+suffix, joined by
  // `sep`: Joined("|") -> "a|b|c", Joined(", ", "demux=") -> "demux=a, ...".
  std::string Joined(absl::string_view sep, absl::string_view prefix = "",
                     absl::string_view suffix = "") const {
    std::string out;
    for (size_t i = 0; i < N; ++i) {
      absl::StrAppend(&out, i == 0 ? "" : sep, prefix, entries_[i].name, suffix);
    }
    return out;
  }

  // The names for an error message: "a", "a or b", "a, b or c"; each
  // wrapped as prefix+name+suffix (OneOf("\"", "\"") quotes them).
  std::string OneOf(absl::string_view prefix = "", absl::string_view suffix = "") const {
    std::string out;
    for (size_t i = 0; i < N; ++i) {
      absl::StrAppend(&out, i == 0 ? "" : (i + 1 == N ? " or " : ", "), prefix,
                      entries_[i].name, suffix);
    }
    return out;
  }

  static constexpr size_t size() { return N; }
  constexpr const EnumName<E>* begin() const { return entries_; }
  constexpr const EnumName<E>* end() const { return entries_ + N; }

 private:
  EnumName<E> entries_[N];
};

// Builds a table from a braced list; the entry count is deduced.
template <typename E, size_t N>
constexpr EnumNames<E, N> MakeEnumNames(const EnumName<E> (&entries)[N]) {
  return EnumNames<E, N>(entries, std::make_index_sequence<N>());
}

}  // namespace kvmbed

#endif  // KVMBED_BASE_ENUM_NAMES_H_
