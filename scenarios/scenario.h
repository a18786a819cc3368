// `kvmbed reproduce NAME`: every seed lockup kvmbed reproduces is one
// Scenario. A scenario runs the buggy kernel model until the hang, explains
// it, then runs the fixed model with the same load and bounds the hang
// probability; the result is one Reproduction (base/reproduction.h), the
// output contract every scenario shares.
//
// Adding a scenario: one new file in scenarios/ that defines a Scenario
// and a `const Scenario& NameScenario()` accessor, and one line in
// registry.cc.
#ifndef KVMBED_SCENARIOS_SCENARIO_H_
#define KVMBED_SCENARIOS_SCENARIO_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/enum_names.h"
#include "base/reproduction.h"
#include "hostipi/kernel_model.h"
#include "nlohmann/json.hpp"
#include "scenarios/reproduce_spec.h"

namespace kvmbed {
namespace scenarios {

// Where lost-host-ipi runs (--plane): modelled host CPUs on plain threads or
// emulated POWER memory, or real KVM vCPU threads as the host CPUs.
enum class Plane { kModel, kKvm };
inline constexpr auto kPlaneNames = MakeEnumNames<Plane>({
    {Plane::kModel, "model"},
    {Plane::kKvm, "kvm"},
});

// What the command line overrides in a scenario's profile. Each is set only
// when its flag was given; a scenario takes only the ones it lists in
// Scenario::Flags() (the CLI refuses the others by name).
struct Overrides {
  std::optional<absl::Duration> buggy_budget;  // --buggy-budget
  std::optional<absl::Duration> fixed_budget;  // --fixed-budget
  std::optional<int64_t> fixed_operations;     // --fixed-doorbells
  std::optional<uint64_t> seed;                // --seed
  std::optional<int64_t> threshold;            // --threshold (ns or virtual ticks)
  std::optional<int> cpus;                     // --cpus
  std::optional<std::string> buggy_model;      // --buggy-model
  std::optional<std::string> fixed_model;      // --fixed-model
  std::optional<std::string> mode;             // --mode
  std::optional<int> shape;                    // --scenario
  std::optional<std::vector<int>> pin;         // --pin
  std::optional<std::string> plane;            // --plane (a kPlaneNames name)
  std::optional<absl::Duration> store_hold;    // --store-hold
};

// Everything one run of a scenario gets.
struct ScenarioInput {
  ScenarioProfile profile;  // the shipped configs/reproduce-NAME.yaml or the user's
  Overrides overrides;
  // Live progress lines and reports as they happen; null = quiet (the
  // Reproduction carries the reports either way).
  std::function<void(const std::string&)> out;
  // Each stall report as it is found, as its event-log line (type "stall"
  // or "stall_cleared", docs/events.md); null = none.
  std::function<void(const std::string& type, const nlohmann::json& fields)> on_stall;
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual std::string Name() const = 0;    // "muxed-ipi-wakelist"
  virtual std::string Commit() const = 0;  // the fix's commit, an alias of the name
  virtual std::string Bug() const = 0;     // one line
  virtual std::string Fix() const = 0;     // one line
  // The shipped profile, repo-relative: "configs/reproduce-NAME.yaml".
  std::string Profile() const { return "configs/reproduce-" + Name() + ".yaml"; }
  // The command-line flags (absl names, e.g. "buggy_model") this scenario
  // takes for `profile` beyond fold_cpus, events and json.
  virtual std::vector<std::string> Flags(const Overrides& given) const { return {}; }
  // True when it runs VMs (it then needs /dev/kvm, or the nested L1).
  virtual bool NeedsKvm(const Overrides& given) const = 0;
  // Runs both phases. Errors: a profile or override it cannot run (the
  // message names the field and the fix), or the VMM failing to start.
  virtual absl::StatusOr<Reproduction> Run(const ScenarioInput& input) const = 0;
};

// Every scenario, host plane first, in `kvmbed reproduce --list` order.
const std::vector<const Scenario*>& Registry();
// The scenario named `name_or_commit` (its name, or at least 7 hex digits
// of its commit); null when none.
const Scenario* FindScenario(const std::string& name_or_commit);

// The kernel model a --buggy-model or --fixed-model flag names; a bad one is
// the parser's error after `prefix` ("buggy model: ").
absl::StatusOr<hostipi::KernelModel> ModelFromFlag(const std::string& text,
                                                   absl::string_view prefix);

// Checks that `profile` is a profile for `scenario`: its reproduce section
// is present and names it; the error names the file and the fix.
absl::Status CheckScenarioProfile(const ScenarioProfile& profile, const std::string& scenario);

}  // namespace scenarios
}  // namespace kvmbed

#endif  // KVMBED_SCENARIOS_SCENARIO_H_
