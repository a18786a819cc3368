// Development driver until the CLI wires `kvmbed reproduce`:
//   guest_repro_main PROFILE            reproduce the profile's scenario
//   guest_repro_main PROFILE bench N [FIXED_SECONDS]
//                                       N buggy runs: median time to hang;
//                                       then one fixed run: its rate
// Exit code: 0 PASS, 1 FAIL, 2 bad input / setup error.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "base/reproduction.h"
#include "configs/profile.h"
#include "vmm/guest_repro.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PROFILE [bench N]\n", argv[0]);
    return 2;
  }
  auto run = kvmbed::LoadProfile(argv[1], {});
  if (!run.ok()) {
    std::fprintf(stderr, "%s\n", std::string(run.status().message()).c_str());
    return 2;
  }
  const kvmbed::vmm::GuestScenario* s = kvmbed::vmm::FindGuestScenario(run->reproduce.scenario);
  if (s == nullptr) {
    std::fprintf(stderr, "%s: reproduce.scenario '%s' is not a guest-plane scenario\n", argv[1],
                 run->reproduce.scenario.c_str());
    return 2;
  }
  if (argc >= 4 && std::string(argv[2]) == "bench") {
    auto b = kvmbed::vmm::BenchGuestScenario(
        *s, *run, std::atoi(argv[3]), absl::Seconds(argc >= 5 ? std::atof(argv[4]) : 0));
    if (!b.ok()) {
      std::fprintf(stderr, "%s\n", std::string(b.status().message()).c_str());
      return 2;
    }
    std::fputs(kvmbed::vmm::FormatGuestReproBench(*b).c_str(), stdout);
    return b->hung == b->runs && b->fixed_hangs == 0 ? 0 : 1;
  }
  kvmbed::vmm::GuestReproOptions o;
  o.out = [](const std::string& t) {
    std::fputs(t.c_str(), stdout);
    std::fflush(stdout);
  };
  auto r = s->run(*run, o);
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
    return 2;
  }
  std::fputs(("\n" + kvmbed::RenderReproduction(*r)).c_str(), stdout);
  return r->Pass() ? 0 : 1;
}
