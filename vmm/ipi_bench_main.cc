// Stand-alone driver of the IPI benchmark (the library behind `kvmbed bench
// ipi`), for side-by-side runs with kvm-unit-tests' x86/vmexit `ipi`:
//   ipi_bench_main [iterations] [cpu0] [cpu1]
// Prints both series (target in hlt, target spinning).
#include <cstdio>
#include <cstdlib>

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
  vm.vcpu_affinity = {{cpu0}, {cpu1}};
  vm.vcpu_pinned = {true, true};
  auto r = kvmbed::vmm::RunIpiBenchSuite(vm, iterations);
  if (!r.ok()) {
    std::fprintf(stderr, "bench ipi: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  std::printf("%s%s", kvmbed::vmm::FormatIpiLatency(r->hlt).c_str(),
              kvmbed::vmm::FormatIpiLatency(r->spin).c_str());
  return 0;
}
