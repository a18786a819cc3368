// hostipi_reproduce: runs `reproduce lost-host-ipi` from the command line
// (the kvmbed CLI calls the same library entry, hostipi::Reproduce).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "hostipi/reproduce.h"

ABSL_FLAG(int, scenario, 1,
          "1 (sender's stores reordered) or 2 (receiver's clear reordered)");
ABSL_FLAG(std::string, mode, "emulated-power", "native or emulated-power");
ABSL_FLAG(int, cpus, 0, "modelled host CPUs (0 = scenario default)");
ABSL_FLAG(uint64_t, seed, 1, "seed (emulated runs replay exactly)");
ABSL_FLAG(double, buggy_budget_s, 30, "wall-time cap of the buggy phase");
ABSL_FLAG(double, fixed_budget_s, 20, "wall-time budget of the fixed phase");
ABSL_FLAG(int64_t, fixed_doorbells, 1000000,
          "end the fixed phase after this many doorbells (0 = budget only)");
ABSL_FLAG(int64_t, threshold, 0,
          "csd stall threshold (ns native, ticks emulated; 0 = default)");
ABSL_FLAG(std::string, pin, "", "host CPUs to pin modelled CPUs to, e.g. 0,1");
ABSL_FLAG(std::string, buggy_model, "", "kernel model of the buggy phase");
ABSL_FLAG(std::string, fixed_model, "", "kernel model of the fixed phase");
ABSL_FLAG(bool, skip_fixed, false, "run only the buggy phase");
ABSL_FLAG(bool, skip_buggy, false, "run only the fixed phase");
ABSL_FLAG(std::string, events, "",
          "append every stall report as a JSON line to this file");
ABSL_FLAG(bool, json, false,
          "print the result as one JSON object instead of text");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace kvmbed::hostipi;
  ReproduceOptions o;
  o.scenario = absl::GetFlag(FLAGS_scenario);
  absl::StatusOr<OrderingMode> mode =
      ParseOrderingMode(absl::GetFlag(FLAGS_mode));
  if (!mode.ok()) {
    std::fprintf(stderr, "--mode: %s\n",
                 std::string(mode.status().message()).c_str());
    return 2;
  }
  o.mode = *mode;
  o.num_cpus = absl::GetFlag(FLAGS_cpus);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.buggy_budget = absl::Seconds(absl::GetFlag(FLAGS_buggy_budget_s));
  o.fixed_budget = absl::Seconds(absl::GetFlag(FLAGS_fixed_budget_s));
  o.fixed_doorbells = absl::GetFlag(FLAGS_fixed_doorbells);
  o.threshold_ns = absl::GetFlag(FLAGS_threshold);
  for (absl::string_view c :
       absl::StrSplit(absl::GetFlag(FLAGS_pin), ',', absl::SkipEmpty())) {
    int cpu;
    if (!absl::SimpleAtoi(c, &cpu)) {
      std::fprintf(stderr,
                   "--pin: \"%s\" is not a CPU number; write e.g. --pin=0,1\n",
                   std::string(c).c_str());
      return 2;
    }
    o.pin_cpus.push_back(cpu);
  }
  o.buggy_model = absl::GetFlag(FLAGS_buggy_model);
  o.fixed_model = absl::GetFlag(FLAGS_fixed_model);
  o.skip_fixed = absl::GetFlag(FLAGS_skip_fixed);
  o.skip_buggy = absl::GetFlag(FLAGS_skip_buggy);
  std::FILE* events = nullptr;
  if (!absl::GetFlag(FLAGS_events).empty()) {
    events = std::fopen(absl::GetFlag(FLAGS_events).c_str(), "a");
    if (events == nullptr) {
      std::fprintf(stderr, "--events=%s: cannot open for appending: %s\n",
                   absl::GetFlag(FLAGS_events).c_str(), std::strerror(errno));
      return 2;
    }
    o.on_stall = [events](const StallReport& report) {
      std::fprintf(events, "%s\n", StallReportToJson(report).c_str());
      std::fflush(events);
    };
  }
  absl::StatusOr<ReproduceResult> r = Reproduce(o);
  if (events != nullptr) {
    if (r.ok()) std::fprintf(events, "%s\n", ReproduceResultToJson(*r).c_str());
    std::fclose(events);
  }
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n",
                 std::string(r.status().message()).c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", ReproduceResultToJson(*r).c_str());
  } else {
    std::fputs(RenderReproduceResult(*r).c_str(), stdout);
  }
  return r->pass ? 0 : 1;
}
