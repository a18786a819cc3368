// wakelist_bench: the muxed-ipi-wakelist figures (median time to the stuck
// task over seeds 1..runs, wake-ups/s of both models); --report prints the
// whole reproduction of --seed instead.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "hostipi/wakelist.h"

ABSL_FLAG(int, runs, 7, "buggy runs (seeds 1..runs)");
ABSL_FLAG(int, cpus, 4, "modelled CPUs");
ABSL_FLAG(int64_t, fixed_wakeups, 1000000, "wake-ups of the fixed run");
ABSL_FLAG(std::string, buggy_model, "pre-9fb1b36", "buggy kernel model");
ABSL_FLAG(std::string, fixed_model, "9fb1b36", "fixed kernel model");
ABSL_FLAG(bool, report, false, "print one full reproduction (seed --seed)");
ABSL_FLAG(uint64_t, seed, 1, "seed for --report");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  kvmbed::hostipi::WakelistOptions o;
  o.num_cpus = absl::GetFlag(FLAGS_cpus);
  o.fixed_wakeups = absl::GetFlag(FLAGS_fixed_wakeups);
  o.buggy_model = absl::GetFlag(FLAGS_buggy_model);
  o.fixed_model = absl::GetFlag(FLAGS_fixed_model);
  o.fixed_budget = absl::Seconds(120);
  if (absl::GetFlag(FLAGS_report)) {
    o.seed = absl::GetFlag(FLAGS_seed);
    auto r = kvmbed::hostipi::ReproduceMuxedIpiWakelist(o);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
      return 2;
    }
    std::fputs(kvmbed::RenderReproduction(*r).c_str(), stdout);
    return r->Pass() ? 0 : 1;
  }
  auto b = kvmbed::hostipi::RunWakelistBench(o, absl::GetFlag(FLAGS_runs));
  if (!b.ok()) {
    std::fprintf(stderr, "%s\n", std::string(b.status().message()).c_str());
    return 2;
  }
  std::fputs(kvmbed::hostipi::RenderWakelistBench(o, *b).c_str(), stdout);
  return 0;
}
