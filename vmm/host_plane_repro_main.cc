// Development driver for ReproduceLostHostIpiOnKvm (the lead wires
// `kvmbed reproduce lost-host-ipi --plane=kvm`):
//   host_plane_repro_main [buggy_seconds [fixed_seconds [align_jitter [burst]]]]
// Exit 0 pass, 1 fail, 2 setup error.
#include <cstdio>
#include <cstdlib>

#include "base/reproduction.h"
#include "vmm/host_plane.h"

int main(int argc, char** argv) {
  kvmbed::vmm::KvmReproOptions o;
  if (argc > 1) o.buggy_budget = absl::Seconds(std::atof(argv[1]));
  if (argc > 2) o.fixed_budget = absl::Seconds(std::atof(argv[2]));
  if (argc > 3) o.align_jitter = std::atoi(argv[3]);
  if (argc > 4) o.resched_burst = std::atoi(argv[4]);
  auto r = kvmbed::vmm::ReproduceLostHostIpiOnKvm(o);
  if (!r.ok()) {
    std::fprintf(stderr, "host_plane_repro: %s\n", std::string(r.status().message()).c_str());
    return 2;
  }
  std::fputs(kvmbed::RenderReproduction(*r).c_str(), stdout);
  return r->Pass() ? 0 : 1;
}
