// Stand-alone driver of RunGuestWorkloads (the library behind `kvmbed run`'s
// guest workloads), for development before the CLI wires it:
//   smp_run_main <profile.yaml> [--fold-cpus]
// Exit code: 0 when every VM ends with End of test: SUCCESS, 1 otherwise,
// 2 on a setup error.
#include <cstdio>
#include <cstring>
#include <string>

#include "configs/profile.h"
#include "vmm/smp_run.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <profile.yaml> [--fold-cpus]\n", argv[0]);
    return 2;
  }
  kvmbed::ProfileOptions opts;
  opts.fold_cpus = argc > 2 && std::strcmp(argv[2], "--fold-cpus") == 0;
  auto spec = kvmbed::LoadProfile(argv[1], opts);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", std::string(spec.status().message()).c_str());
    return 2;
  }
  auto results = kvmbed::vmm::RunGuestWorkloads(*spec);
  if (!results.ok()) {
    std::fprintf(stderr, "%s\n", std::string(results.status().message()).c_str());
    return 2;
  }
  int rc = 0;
  for (const auto& r : *results) rc = std::max(rc, r.exit_code());
  return rc;
}
