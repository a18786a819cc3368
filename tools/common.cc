#include "tools/common.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "base/input.h"
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

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  if (stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0) {
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  }
  std::error_code ea, eb;
  std::filesystem::path pa = std::filesystem::weakly_canonical(std::filesystem::absolute(a), ea);
  std::filesystem::path pb = std::filesystem::weakly_canonical(std::filesystem::absolute(b), eb);
  if (ea || eb) return a == b;
  return pa.lexically_normal() == pb.lexically_normal();
}

absl::Status RefuseOutputsOverInputs(const std::vector<std::string>& inputs) {
  std::vector<std::pair<std::string, std::string>> outputs;  // flag, path
  for (auto [flag, path] : {std::make_pair("--output", absl::GetFlag(FLAGS_output)),
                            std::make_pair("--events", absl::GetFlag(FLAGS_events)),
                            std::make_pair("--junit", absl::GetFlag(FLAGS_junit))}) {
    if (path.empty()) continue;
    for (const std::string& in : inputs) {
      if (SameFile(path, in)) {
        return absl::InvalidArgumentError(absl::StrCat(
            flag, "=", Excerpt(path, 1024), " is the input file ", Excerpt(in, 1024),
            "; writing there would destroy it: choose another output file"));
      }
    }
    for (const auto& [other_flag, other] : outputs) {
      if (SameFile(path, other)) {
        return absl::InvalidArgumentError(absl::StrCat(
            flag, " and ", other_flag, " are the same file ", Excerpt(path, 1024),
            "; give each its own file"));
      }
    }
    outputs.emplace_back(flag, path);
  }
  return absl::OkStatus();
}

int FinishStdout(int code) {
  errno = 0;
  const bool flush_failed = std::fflush(stdout) != 0;
  const int err = errno;
  if (flush_failed || std::ferror(stdout)) {
    std::fprintf(stderr,
                 "kvmbed: writing to standard output failed%s%s; the output is incomplete: "
                 "free space or redirect it elsewhere (or use --output FILE where offered)\n",
                 flush_failed && err != 0 ? ": " : "",
                 flush_failed && err != 0 ? std::strerror(err) : "");
    return kExitBadInput;
  }
  return code;
}

int BadInput(const absl::Status& status) { return BadInput(std::string(status.message())); }

int BadInput(const std::string& message) {
  std::fprintf(stderr, "kvmbed: %s\n", message.c_str());
  return kExitBadInput;
}

}  // namespace kvmbed
