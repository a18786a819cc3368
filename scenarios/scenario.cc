#include "scenarios/scenario.h"

#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvmbed {
namespace scenarios {

const Scenario* FindScenario(const std::string& name_or_commit) {
  std::string key = name_or_commit;
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const Scenario* s : Registry()) {
    if (key == s->Name()) return s;
    const std::string commit = s->Commit();
    if (key.size() >= 7 && (absl::StartsWith(commit, key) || absl::StartsWith(key, commit))) {
      return s;
    }
  }
  return nullptr;
}

absl::StatusOr<hostipi::KernelModel> ModelFromFlag(const std::string& text,
                                                   absl::string_view prefix) {
  absl::StatusOr<hostipi::KernelModel> m = hostipi::KernelModel::Parse(text);
  if (!m.ok()) return absl::InvalidArgumentError(absl::StrCat(prefix, m.status().message()));
  return *m;
}

absl::Status CheckScenarioProfile(const ScenarioProfile& profile, const std::string& scenario) {
  if (!profile.reproduce.present) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: no `reproduce:` section; use configs/reproduce-%s.yaml or add "
        "`reproduce: {scenario: %s}`",
        profile.source, scenario, scenario));
  }
  if (profile.reproduce.scenario != scenario) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: reproduce.scenario is '%s'; this profile is not for %s (start from "
        "configs/reproduce-%s.yaml)",
        profile.source, profile.reproduce.scenario, scenario, scenario));
  }
  return absl::OkStatus();
}

}  // namespace scenarios
}  // namespace kvmbed
