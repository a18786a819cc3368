// A small JUnit XML writer for soak results (`kvmbed soak --junit FILE`):
// <testsuites><testsuite><testcase> with <failure>, <error>, <skipped> and
// <system-out>, built with tinyxml2 so every value is escaped properly.
// Text that XML 1.0 cannot carry (control characters, invalid UTF-8) is
// replaced, never dropped silently: see SanitizeXmlText().
//
// Typical use: one suite per run, one case per VM ("vm guest-a") and one per
// check ("no lost IPI", "no soft lockup", "guest workload errors").
//
// Threading: JUnitReport is a plain value; build it from one thread.
#ifndef KVMBED_BASE_JUNIT_H_
#define KVMBED_BASE_JUNIT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace kvmbed {

struct JUnitCase {
  enum class Result { kPassed, kFailed, kError, kSkipped };

  std::string name;
  std::string classname;  // e.g. "kvmbed.soak.seed-soak"
  absl::Duration time = absl::ZeroDuration();
  Result result = Result::kPassed;
  std::string message;     // failure/error/skipped message attribute
  std::string type;        // failure/error type attribute (e.g. "lost_ipi")
  std::string details;     // failure/error element text (e.g. the stall report)
  std::string system_out;  // <system-out> text, if any
  std::string system_err;  // <system-err> text, if any
};

struct JUnitSuite {
  std::string name;
  absl::Time timestamp = absl::InfinitePast();  // InfinitePast: attribute omitted
  absl::Duration time = absl::ZeroDuration();
  std::string hostname;
  std::vector<std::pair<std::string, std::string>> properties;
  std::vector<JUnitCase> cases;
  std::string system_out;
};

class JUnitReport {
 public:
  // `name` becomes <testsuites name="...">.
  explicit JUnitReport(std::string name = "kvmbed") : name_(std::move(name)) {}

  // Adds a suite and returns it for filling in (valid until the next AddSuite).
  JUnitSuite& AddSuite(std::string name);
  const std::vector<JUnitSuite>& suites() const { return suites_; }

  // The whole document, with tests/failures/errors/skipped/time totals.
  std::string ToXml() const;
  // Writes ToXml() to `path` atomically (temporary file + rename).
  absl::Status WriteFile(const std::string& path) const;

 private:
  std::string name_;
  std::vector<JUnitSuite> suites_;
};

// Replaces what XML 1.0 cannot hold: invalid UTF-8 bytes and C0 controls
// other than tab/newline/CR become U+FFFD (or "\xNN" for controls), so the
// output always parses.
std::string SanitizeXmlText(const std::string& text);

}  // namespace kvmbed

#endif  // KVMBED_BASE_JUNIT_H_
