#include "tools/nested.h"

#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "tools/commands.h"
#include "tools/common.h"
#include "tools/flags.h"
#include "scenarios/scenario.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace {

bool IsFile(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  return buf;
}

// tools/nested_kvm.sh: $KVMBED_NESTED_HARNESS, else beside the binary in its
// Bazel runfiles, else in the workspace `bazel run` was started from.
std::string FindHarness() {
  if (const char* h = std::getenv("KVMBED_NESTED_HARNESS"); h != nullptr && *h) return h;
  std::string exe = SelfExe();
  for (const std::string& p :
       {exe + ".runfiles/kvmbed/tools/nested_kvm.sh",
        std::string(std::getenv("RUNFILES_DIR") ? std::getenv("RUNFILES_DIR") : "") +
            "/kvmbed/tools/nested_kvm.sh",
        std::string(std::getenv("BUILD_WORKSPACE_DIRECTORY")
                        ? std::getenv("BUILD_WORKSPACE_DIRECTORY")
                        : "") +
            "/tools/nested_kvm.sh"}) {
    if (IsFile(p)) return p;
  }
  return "";
}

std::string Absolute(const std::string& path, const std::string& cwd) {
  return !path.empty() && path[0] == '/' ? path : absl::StrCat(cwd, "/", path);
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

bool RunsLinuxGuest(const std::vector<std::string>& args) {
  if (args.size() >= 2 && args[0] == "bench" && args[1] == "linux-boot") return true;
  if (args.empty() || args[0] != "run") return false;
  if (!absl::GetFlag(FLAGS_guest_kernel).empty()) return true;
  absl::StatusOr<RunSpec> spec = LoadRunSpec({args.begin() + 1, args.end()});
  return spec.ok() && spec->guest.linux.present;
}

bool CommandNeedsKvm(const std::vector<std::string>& args) {
  if (args.empty()) return true;  // the main job: run the default profile
  const std::string& cmd = args[0];
  if (cmd == "run" || cmd == "soak") return true;
  if (cmd == "bench" && args.size() >= 2) {
    const std::string& b = args[1];
    if (b == "boot" || b == "linux-boot" || b == "ipi" || b.rfind("soak-", 0) == 0) return true;
    if (b != "reproduce" || args.size() < 3) return false;
    const scenarios::Scenario* s = scenarios::FindScenario(args[2]);
    return s != nullptr && s->NeedsKvm(scenarios::Overrides{});
  }
  if (cmd == "reproduce" && args.size() >= 2) {
    const scenarios::Scenario* s = scenarios::FindScenario(args[1]);
    scenarios::Overrides given;
    if (!absl::GetFlag(FLAGS_plane).empty()) given.plane = absl::GetFlag(FLAGS_plane);
    return s != nullptr && s->NeedsKvm(given);
  }
  return false;
}

std::vector<std::string> NestedWritableDirs(const std::string& cwd) {
  std::vector<std::string> dirs;
  auto add = [&dirs](const std::string& d) {
    if (d.empty() || d == "/" || access(d.c_str(), W_OK) != 0) return;
    for (const std::string& x : dirs) {
      if (x == d) return;
    }
    dirs.push_back(d);
  };
  add(cwd);
  for (const std::string& f :
       {absl::GetFlag(FLAGS_events), absl::GetFlag(FLAGS_junit), absl::GetFlag(FLAGS_output)}) {
    if (!f.empty()) add(DirName(Absolute(f, cwd)));
  }
  return dirs;
}

int MaybeRunNested(int argc, char** argv, const std::vector<std::string>& args) {
  const std::string mode = absl::GetFlag(FLAGS_nested);
  if (mode != "auto" && mode != "yes" && mode != "no") {
    return BadInput(absl::StrCat("--nested='", mode,
                                 "': use auto (the L1 only without /dev/kvm), yes or no"));
  }
  if (mode == "no" || std::getenv("KVMBED_NESTED") != nullptr) return -1;  // never twice
  if (!CommandNeedsKvm(args)) return -1;
  if (mode == "auto" && vmm::DetectKvmHost().flavour != "none") return -1;

  const std::string harness = FindHarness();
  if (harness.empty()) {
    return BadInput(
        "this machine has no usable /dev/kvm and tools/nested_kvm.sh (the nested L1) was "
        "not found. Load kvm_intel or kvm_amd (modprobe kvm_amd), enable nested "
        "virtualisation on this VM's host, or run kvmbed through `bazel run "
        "//tools:kvmbed` from a checkout (tools/setup.sh installs the L1's packages)");
  }
  char cwd_buf[PATH_MAX];
  const std::string cwd = getcwd(cwd_buf, sizeof(cwd_buf)) ? cwd_buf : "/";

  std::vector<std::string> cmd = {"/bin/bash", harness, "--quiet"};
  for (const std::string& d : NestedWritableDirs(cwd)) {
    cmd.push_back("--rw");
    cmd.push_back(d);
  }
  // A Linux guest gets an L1 of one CPU. QEMU's TCG can deliver an
  // interrupt that the L1's KVM injects a second time when it switches
  // between L1 CPUs at the wrong instant; a stock kernel's entry code does
  // not survive that (docs/linux-guests.md). One L1 CPU costs nothing under
  // single-threaded TCG; the profile's vcpupin is folded onto it.
  const bool linux_guest = RunsLinuxGuest(args);
  if (linux_guest) {
    cmd.push_back("--cpus");
    cmd.push_back("1");
  }
  cmd.push_back("--");
  cmd.push_back(SelfExe());
  cmd.push_back("--nested=no");
  if (linux_guest && !absl::GetFlag(FLAGS_fold_cpus)) cmd.push_back("--fold-cpus");
  for (int i = 1; i < argc; ++i) cmd.push_back(argv[i]);

  std::fprintf(stderr,
               "kvmbed: no /dev/kvm here: running in a nested L1 (real SVM KVM under QEMU "
               "TCG; timings there are functional only, not performance; --nested=no "
               "turns this off)\n");
  if (linux_guest) {
    std::fprintf(stderr,
                 "kvmbed: a Linux guest runs on one L1 CPU there, its vcpupin folded onto it "
                 "(docs/linux-guests.md)\n");
  }
  std::fflush(stderr);
  std::vector<char*> cargv;
  for (std::string& s : cmd) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  execv(cargv[0], cargv.data());
  return BadInput(absl::StrCat("cannot run ", harness, ": ", std::strerror(errno)));
}

}  // namespace kvmbed
