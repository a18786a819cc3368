// Test helpers shared by the KVM tests (vmm/*_test.cc, tests/): VmSpecs on
// this host's CPUs and the /dev/kvm skip. Test-only (//vmm:test_vm).
#ifndef KVMBED_VMM_TEST_VM_H_
#define KVMBED_VMM_TEST_VM_H_

#include <string>
#include <vector>

#include "vmm/vm_spec.h"
#include "vmm/kvm.h"

// Skips the current test, with the reason, when /dev/kvm cannot be used.
#define KVMBED_SKIP_WITHOUT_KVM()                                             \
  do {                                                                        \
    if (!::kvmbed::vmm::Kvm::Available()) {                                   \
      GTEST_SKIP() << "/dev/kvm is absent or not usable: KVM test skipped";   \
    }                                                                         \
  } while (0)

namespace kvmbed {
namespace vmm {

// The CPUs this process may run on (its sched_getaffinity mask), sorted.
std::vector<int> TestHostCpus();

// Entries in directory `dir` (e.g. /proc/self/fd or /proc/self/task, to
// check that a VM leaves no fd or thread behind); -1 if it cannot be read.
int CountDirEntries(const char* dir);

// A `vcpus`-vCPU VM of 64 MiB, one core per vCPU, with vCPU i pinned to
// host CPU i % ncpus (each vCPU on exactly one CPU).
VmSpec PinnedTestVm(const std::string& name, int vcpus);

// The same VM with every vCPU unpinned (allowed on every host CPU).
VmSpec UnpinnedTestVm(const std::string& name, int vcpus);

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_TEST_VM_H_
