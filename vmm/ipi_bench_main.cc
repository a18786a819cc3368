// Stand-alone driver of the IPI benchmark (the library behind `kvmbed bench
// ipi`), for side-by-side runs with kvm-unit-tests' x86/vmexit `ipi`:
//   ipi_bench_main [iterations] [cpu0] [cpu1]
// A negative cpu leaves that vCPU free to run on host CPUs 0 and 1.
// Prints the four series; the last `ipi <cycles>` line is on_cpu to a
// halted target, the shape of kvm-unit-tests' x86/vmexit `ipi`.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "vmm/ipi_bench.h"

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 2000;
  int cpu0 = argc > 2 ? std::atoi(argv[2]) : 0;
  int cpu1 = argc > 3 ? std::atoi(argv[3]) : 1;
  kvmbed::VmSpec vm;
  vm.name = "bench";
  vm.vcpus = 2;
  vm.topology = kvmbed::Topology{1, 2, 1};
  vm.memory_bytes = 64ull << 20;
  auto set = [](int cpu) { return cpu < 0 ? std::vector<int>{0, 1} : std::vector<int>{cpu}; };
  vm.vcpu_affinity = {set(cpu0), set(cpu1)};
  vm.vcpu_pinned = {cpu0 >= 0, cpu1 >= 0};
  auto r = kvmbed::vmm::RunIpiBenchSuite(vm, iterations);
  if (!r.ok()) {
    std::fprintf(stderr, "bench ipi: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  std::printf("%s", kvmbed::vmm::FormatIpiBenchReport(*r).c_str());
  return 0;
}
