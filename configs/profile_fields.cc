// Field validation for profiles: the keys a map may hold (with "did you
// mean" for a typo), and the scalar kinds every section uses: text, names,
// whole numbers in a range, positive durations, booleans; each error
// positioned at file:line:col with the field and the fix.
#include "configs/profile_reader.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/input.h"
#include "base/status_macros.h"

namespace kvmbed {
namespace profile_internal {
namespace {

// Edit distance, for "did you mean" suggestions.
int Levenshtein(absl::string_view a, absl::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diag = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int up = row[j];
      int cost = absl::ascii_tolower(a[i - 1]) == absl::ascii_tolower(b[j - 1])
                     ? 0
                     : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace



// A stress count or size times --scale (ProfileOptions::scale).
int ScaleCount(int n, double f) {
  if (n <= 0 || f == 1) return n;
  return std::max(1, static_cast<int>(n * f + 0.5));
}
uint64_t ScaleBytes(uint64_t b, double f) {
  if (f == 1) return b;
  uint64_t v = static_cast<uint64_t>(static_cast<double>(b) * f) & ~uint64_t{4095};
  return std::max<uint64_t>(v, 4096);
}

std::string KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return absl::StrCat("'", Excerpt(node.Scalar()), "'");
    default:
      return "nothing";
  }
}

// yaml-cpp tags quoted scalars "!"; their text starts one column after the
// node's mark. (Escapes inside quotes can still shift columns.)
int QuoteOffset(const YAML::Node& node) { return node.Tag() == "!" ? 1 : 0; }

// Offset of the decimal number `n` written on its own in `text`, or -1.
int FindNumber(const std::string& text, int n) {
  std::string digits = std::to_string(n);
  for (size_t at = text.find(digits); at != std::string::npos;
       at = text.find(digits, at + 1)) {
    bool left = at == 0 || !absl::ascii_isdigit(text[at - 1]);
    size_t end = at + digits.size();
    bool right = end == text.size() || !absl::ascii_isdigit(text[end]);
    if (left && right) return static_cast<int>(at);
  }
  return -1;
}

std::string Join(const std::string& path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string Index(const std::string& path, size_t i) {
  return absl::StrCat(path, "[", i, "]");
}

absl::Status FieldReader::CheckMap(const YAML::Node& node,
                                     const std::string& path,
                                     const std::vector<KeySpec>& keys) const {
  if (!node.IsMap()) {
    return Error(node, path,
                 absl::StrCat("expected a map of keys, got ", KindOf(node),
                              "; e.g. ", keys.front().example));
  }
  std::map<std::string, int> seen;  // key -> line
  for (auto it = node.begin(); it != node.end(); ++it) {
    // A copy: it->first lives in a proxy that dies with this statement.
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      return Error(key, path, "keys must be plain words like 'vcpus'");
    }
    const std::string& name = key.Scalar();
    auto known = std::find_if(keys.begin(), keys.end(),
                              [&](const KeySpec& k) { return name == k.key; });
    if (known == keys.end()) {
      std::vector<std::string> names;
      const KeySpec* best = nullptr;
      const int limit = std::max<int>(2, static_cast<int>(name.size()) / 3);
      int best_distance = limit + 1;
      for (const KeySpec& k : keys) {
        names.push_back(k.key);
        // The distance is at least the length difference: a key that far
        // off cannot be suggested, so its O(n*m) distance is not computed
        // (a pasted paragraph as a key costs no more than a typo).
        const int gap = std::abs(static_cast<int>(name.size()) -
                                 static_cast<int>(std::strlen(k.key)));
        if (gap >= best_distance) continue;
        int d = Levenshtein(name, k.key);
        if (d < best_distance) best_distance = d, best = &k;
      }
      std::string hint;
      if (best != nullptr) {
        hint = absl::StrCat("did you mean '", best->key, "'? ");
      }
      return Error(key, Join(path, Excerpt(name)),
                   absl::StrCat("unknown key; ", hint, "known keys here: ",
                                absl::StrJoin(names, ", ")));
    }
    if (it->second.IsNull()) {
      // A null value's mark points past the key; point at the key instead.
      return Error(
          key, Join(path, name),
          absl::StrCat("has no value; write e.g. '", known->example, "'"));
    }
    auto [where, inserted] = seen.emplace(name, LineOf(key));
    if (!inserted) {
      return Error(key, Join(path, name),
                   absl::StrFormat("duplicate key (first given on line %d); "
                                   "keep only one",
                                   where->second));
    }
  }
  for (const KeySpec& k : keys) {
    if (k.required && seen.count(k.key) == 0) {
      return Error(
          node, Join(path, k.key),
          absl::StrCat("missing required field; add e.g. '", k.example, "'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FieldReader::String(
    const YAML::Node& node, const std::string& field) const {
  if (!node.IsScalar()) {
    return Error(node, field,
                 absl::StrCat("expected a text value, got ", KindOf(node)));
  }
  return node.Scalar();
}

absl::StatusOr<std::string> FieldReader::Name(
    const YAML::Node& node, const std::string& field) const {
  ASSIGN_OR_RETURN(std::string name, String(node, field));
  bool ok = !name.empty() && name.size() <= 64 &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
            });
  if (!ok) {
    return Error(node, field,
                 absl::StrCat("'", Excerpt(name),
                              "' is not a valid name; use 1 to 64 letters, "
                              "digits, '-', '_' or '.'"));
  }
  return name;
}

absl::StatusOr<int> FieldReader::Int(const YAML::Node& node,
                                       const std::string& field, int min,
                                       int max) const {
  int value = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &value)) {
    return Error(node, field,
                 absl::StrFormat("expected a whole number from %d to %d, "
                                 "got %s",
                                 min, max, KindOf(node)));
  }
  if (value < min || value > max) {
    return Error(node, field,
                 absl::StrFormat("%d is out of range; use a number from %d "
                                 "to %d",
                                 value, min, max));
  }
  return value;
}

absl::StatusOr<absl::Duration> FieldReader::PositiveDuration(
    const YAML::Node& node, const std::string& field) const {
  absl::Duration d;
  if (!node.IsScalar() || !absl::ParseDuration(node.Scalar(), &d)) {
    return Error(node, field,
                 absl::StrCat("expected a duration with a unit, got ", KindOf(node),
                              "; e.g. 200ms, 5s"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return Error(node, field,
                 absl::StrCat("'", Excerpt(node.Scalar()),
                              "' is not a positive finite duration; use e.g. 200ms or 5s "
                              "(leave the key out for the default)"));
  }
  return d;
}

absl::StatusOr<bool> FieldReader::Bool(const YAML::Node& node,
                                         const std::string& field) const {
  if (node.IsScalar()) {
    std::string v = absl::AsciiStrToLower(node.Scalar());
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
  }
  return Error(node, field, absl::StrCat("expected true or false, got ", KindOf(node)));
}

}  // namespace profile_internal
}  // namespace kvmbed
