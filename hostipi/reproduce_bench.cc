// reproduce_bench: per scenario and mode, the median time to reproduce the
// lost host IPI, doorbells/s, and the fixed model's doorbells with 0 stalls.
// `kvmbed bench hostipi` calls the same library function.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "hostipi/reproduce.h"

ABSL_FLAG(int, runs, 5, "buggy runs (seeds 1..runs) per scenario and mode");
ABSL_FLAG(int64_t, fixed_doorbells, 1000000, "doorbells the fixed run aims at");
ABSL_FLAG(double, buggy_budget_s, 30, "cap per buggy run");
ABSL_FLAG(double, fixed_budget_s, 60, "cap of the fixed run");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  kvmbed::hostipi::BenchOptions o;
  o.runs = absl::GetFlag(FLAGS_runs);
  o.fixed_doorbells = absl::GetFlag(FLAGS_fixed_doorbells);
  o.buggy_budget = absl::Seconds(absl::GetFlag(FLAGS_buggy_budget_s));
  o.fixed_budget = absl::Seconds(absl::GetFlag(FLAGS_fixed_budget_s));
  auto rows = kvmbed::hostipi::RunReproduceBench(o);
  if (!rows.ok()) {
    std::fprintf(stderr, "error: %s\n",
                 std::string(rows.status().message()).c_str());
    return 2;
  }
  std::fputs(kvmbed::hostipi::RenderBench(*rows).c_str(), stdout);
  return 0;
}
