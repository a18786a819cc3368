// A profile's text as one YAML document, and the reader that validates a
// parsed document into a ScenarioProfile. LoadScenarioProfileFromString
// (configs/profile.h) is ParseProfileYaml followed by ReadScenarioProfile;
// the two halves are public so that one parse can be read under several
// ProfileOptions (the profile fuzzer reads each input with and without
// --fold-cpus and without a host).
//
// Thread-safe: pure functions.
#ifndef KVMBED_CONFIGS_PROFILE_YAML_H_
#define KVMBED_CONFIGS_PROFILE_YAML_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "configs/profile.h"
#include "scenarios/reproduce_spec.h"
#include "yaml-cpp/yaml.h"

namespace kvmbed {

// Parses `text` (at most kMaxProfileBytes) as exactly one YAML document.
// Errors are "source:line:col: ..." for a syntax error or a second
// document, each with the fix.
absl::StatusOr<YAML::Node> ParseProfileYaml(absl::string_view text,
                                            const std::string& source_name);

// Validates the parsed document `root` of `source_name` under `opts`.
absl::StatusOr<ScenarioProfile> ReadScenarioProfile(const YAML::Node& root,
                                                    const std::string& source_name,
                                                    const ProfileOptions& opts);

}  // namespace kvmbed

#endif  // KVMBED_CONFIGS_PROFILE_YAML_H_
