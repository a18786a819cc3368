#include "tools/common.h"

#include <cstdio>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "configs/profile.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "vmm/kvm.h"

namespace kvmbed {

absl::StatusOr<RunSpec> LoadRunSpec(const std::vector<std::string>& args) {
  if (args.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected at most one profile, got ", args.size(),
        " arguments; pass one PROFILE.yaml (or none for the built-in default)"));
  }
  ProfileOptions opts;
  opts.fold_cpus = absl::GetFlag(FLAGS_fold_cpus);
  absl::StatusOr<RunSpec> spec =
      args.empty() ? LoadDefaultProfile(opts) : LoadProfileOrShipped(args[0], opts);
  if (!spec.ok()) return spec.status();
  absl::Duration d = absl::GetFlag(FLAGS_duration);
  if (d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--duration: must not be negative; give e.g. --duration=10s");
  }
  if (d > absl::ZeroDuration()) spec->duration = d;
  return spec;
}

std::string KvmHostLine() {
  return absl::StrCat("kvm: ", vmm::DetectKvmHost().Describe(), "\n");
}

void AddKvmHostFields(nlohmann::json* fields) {
  vmm::KvmHost h = vmm::DetectKvmHost();
  (*fields)["kvm"] = h.flavour;
  (*fields)["kvm_nested"] = h.nested;
}

absl::Status WriteOutput(const std::string& text) {
  const std::string path = absl::GetFlag(FLAGS_output);
  if (path.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return absl::OkStatus();
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("--output: cannot write ", path));
  return absl::OkStatus();
}

int BadInput(const absl::Status& status) { return BadInput(std::string(status.message())); }

int BadInput(const std::string& message) {
  std::fprintf(stderr, "kvmbed: %s\n", message.c_str());
  return kExitBadInput;
}

}  // namespace kvmbed
