// Figures of the exhaustive POWER explorer: the litmus suite (states/s,
// total time) and lost-host-ipi per kernel model (time to the shortest
// lost-IPI trace, or to the proof that none exists within the bound).
//
//   bazel run //hostipi:explore_bench [-- IPIS [CPUS [WINDOW]]]
#include <cstdio>
#include <cstdlib>

#include "absl/time/time.h"
#include "hostipi/explore_host_ipi.h"
#include "hostipi/power_litmus.h"

int main(int argc, char** argv) {
  using namespace kvmbed::hostipi;
  const int ipis = argc > 1 ? std::atoi(argv[1]) : 2;
  const int cpus = argc > 2 ? std::atoi(argv[2]) : 2;
  const int window = argc > 3 ? std::atoi(argv[3]) : 8;
  int64_t states = 0, agree = 0, total = 0;
  absl::Duration wall;
  for (const SuiteEntry& e : LitmusSuite()) {
    absl::StatusOr<ParsedLitmus> t = ParseLitmus(e.text);
    if (!t.ok()) return 2;
    absl::StatusOr<ExploredLitmus> r = ExploreLitmus(*t);
    if (!r.ok()) return 2;
    states += r->result.states;
    wall += r->result.wall_time;
    ++total;
    agree += r->reachable == (e.power == Verdict::kAllowed);
  }
  std::printf("litmus suite: %lld tests, %lld agree with herd, %lld states in %.2f s (%.0f states/s)\n",
              static_cast<long long>(total), static_cast<long long>(agree),
              static_cast<long long>(states), absl::ToDoubleSeconds(wall),
              states / absl::ToDoubleSeconds(wall));
  for (const char* model : {"v5.3", "v5.3,demux=peek", "v5.4"}) {
    HostIpiExploreOptions o;
    o.model = *KernelModel::Parse(model);
    o.ipis = ipis;
    o.cpus = cpus;
    o.window = window;
    // Buggy models: breadth first at once, the time to the shortest trace.
    o.decide_depth_first = o.model.preset == "v5.4";
    absl::StatusOr<HostIpiExploreResult> r = ExploreLostHostIpi(o);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
      return 2;
    }
    const double secs = absl::ToDoubleSeconds(r->explore.wall_time);
    std::printf("lost-host-ipi %-16s cpus=%d ipis=%d window=%d: %s, %lld states in %.2f s (%.0f states/s)%s\n",
                model, cpus, ipis, window,
                r->lost ? "LOST IPI reachable" : r->complete ? "proven: no lost IPI" : "undecided",
                static_cast<long long>(r->explore.states), secs, r->explore.states / secs,
                r->lost ? (", shortest trace " + std::to_string(r->explore.trace.size()) + " steps").c_str() : "");
  }
  return 0;
}
