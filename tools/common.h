// Helpers shared by the kvmbed subcommands.
#ifndef KVMBED_TOOLS_COMMON_H_
#define KVMBED_TOOLS_COMMON_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "runner/run_spec.h"

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

// True when `a` and `b` name the same file: the same device and inode when
// both exist, else the same absolute, normalized path (symlinks resolved as
// far as the path exists).
bool SameFile(const std::string& a, const std::string& b);

// Refuses every output file given on the command line (--output, --events,
// --junit) that is the same file as one of `inputs` (the command's
// arguments) or as another output, naming both and the fix.
absl::Status RefuseOutputsOverInputs(const std::vector<std::string>& inputs);

// Flushes stdout; when any write to it failed (a full disk, /dev/full, a
// closed pipe), says so on stderr and returns kExitBadInput (the output is
// lost: no verdict can be trusted), else `code`.
int FinishStdout(int code);

}  // namespace kvmbed

#endif  // KVMBED_TOOLS_COMMON_H_
