#include "vmm/test_vm.h"

#include <dirent.h>
#include <sched.h>

#include "base/cpuset.h"

namespace kvmbed {
namespace vmm {

std::vector<int> TestHostCpus() { return ProcessCpus().value_or(std::vector<int>{0}); }

int CountDirEntries(const char* dir) {
  DIR* d = opendir(dir);
  if (d == nullptr) return -1;
  int n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

namespace {
VmSpec TestVm(const std::string& name, int vcpus, bool pinned) {
  const std::vector<int> cpus = TestHostCpus();
  VmSpec spec;
  spec.name = name;
  spec.vcpus = vcpus;
  spec.topology = Topology{1, vcpus, 1};
  spec.memory_bytes = 64ull << 20;
  for (int i = 0; i < vcpus; ++i) {
    spec.vcpu_affinity.push_back(pinned ? std::vector<int>{cpus[i % cpus.size()]} : cpus);
    spec.vcpu_pinned.push_back(pinned);
  }
  return spec;
}
}  // namespace

VmSpec PinnedTestVm(const std::string& name, int vcpus) { return TestVm(name, vcpus, true); }

VmSpec UnpinnedTestVm(const std::string& name, int vcpus) { return TestVm(name, vcpus, false); }

}  // namespace vmm
}  // namespace kvmbed
