// Helpers shared by the kvmbed subcommands.
#ifndef KVMBED_TOOLS_COMMON_H_
#define KVMBED_TOOLS_COMMON_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "configs/run_spec.h"

namespace kvmbed {

// Loads the profile named by args[0], or the built-in default when args is
// empty, applying --fold-cpus and --duration.
absl::StatusOr<RunSpec> LoadRunSpec(const std::vector<std::string>& args);

// "kvm: svm, nested" and the like: which KVM this run uses, for the first
// lines of run, soak and bench output.
std::string KvmHostLine();

// The same as run_start fields: kvm (vmx/svm/pvm/other/none) and kvm_nested.
void AddKvmHostFields(nlohmann::json* fields);

// Writes `text` to --output if set, else to stdout.
absl::Status WriteOutput(const std::string& text);

}  // namespace kvmbed

#endif  // KVMBED_TOOLS_COMMON_H_
