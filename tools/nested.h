// `--nested`: where this machine has no /dev/kvm, kvmbed runs itself in a
// nested L1 under QEMU TCG (tools/nested_kvm.sh), where kvm_amd is real SVM
// KVM. Timings there are functional only.
#ifndef KVMBED_TOOLS_NESTED_H_
#define KVMBED_TOOLS_NESTED_H_

#include <string>
#include <vector>

namespace kvmbed {

// True when the command (positional args, as main parsed them) creates VMs:
// run, soak, bench boot/ipi/soak-*, the guest-plane scenarios of reproduce
// and bench reproduce, and reproduce --plane=kvm.
bool CommandNeedsKvm(const std::vector<std::string>& args);

// True for `kvmbed run` of a profile with a Linux guest (guest.kernel, or
// --guest-kernel). Such a run gets an L1 of one CPU, its vcpupin folded
// (docs/linux-guests.md). A profile that does not load is not one: the run
// inside the L1 reports it.
bool RunsLinuxGuest(const std::vector<std::string>& args);

// The directories a run in the L1 must be able to write: the working
// directory and those of --events, --junit and --output (absolute, unique).
std::vector<std::string> NestedWritableDirs(const std::string& cwd);

// Decides by --nested (auto: only when /dev/kvm is absent; yes: always; no:
// never) whether this command runs in the L1. If so, runs it there with argv
// (the process's own arguments) and returns its exit code; otherwise returns
// -1 and the caller runs the command here. Exit 2 when the L1 is needed but
// cannot be had, with what to do.
int MaybeRunNested(int argc, char** argv, const std::vector<std::string>& args);

}  // namespace kvmbed

#endif  // KVMBED_TOOLS_NESTED_H_
