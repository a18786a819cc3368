#include "configs/profile_yaml.h"

#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/input.h"
#include "yaml-cpp/eventhandler.h"

namespace kvmbed {
namespace {

// Records where the latest YAML document starts.
class DocumentMarks : public YAML::EventHandler {
 public:
  YAML::Mark last = YAML::Mark::null_mark();
  void OnDocumentStart(const YAML::Mark& mark) override { last = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

absl::StatusOr<YAML::Node> ParseProfileYaml(absl::string_view text,
                                            const std::string& source_name) {
  if (text.size() > kMaxProfileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_name, ": the profile is larger than ", FormatByteCap(kMaxProfileBytes),
        ", kvmbed's limit for a profile; give the right file (shipped profiles are under 4 KiB)"));
  }
  try {
    YAML::Node root = YAML::Load(std::string(text));
    // Whatever follows the first document would be silently ignored: refuse
    // it. (yaml-cpp's LoadAll never returns on some broken input, e.g. a
    // stray ',' at the start of a line; two bounded steps of the parser do.)
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    DocumentMarks marks;
    if (parser.HandleNextDocument(marks) && parser.HandleNextDocument(marks)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s:%d:%d: profile: a second YAML document (a '---' line, or a stray ',' "
          "or ']' that ends the first); a profile is one document: remove it, or split "
          "the file in two",
          source_name, marks.last.line + 1, marks.last.column + 1));
    }
    return root;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s:%d:%d: YAML syntax error: %s; fix the YAML at that spot",
        source_name, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

}  // namespace kvmbed
