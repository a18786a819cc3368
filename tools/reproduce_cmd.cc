// `kvmbed reproduce NAME | --list`: reproduce a seed lockup with the buggy
// kernel model, then show that the fixed model stays clean.
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/event_log.h"
#include "base/reproduction.h"
#include "configs/profile.h"
#include "configs/cpuset.h"
#include "hostipi/reproduce.h"
#include "hostipi/stall_report.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "vmm/guest_repro.h"

namespace kvmbed {
namespace {

struct Scenario {
  std::string name;
  std::string commit;  // alias
  std::string summary;
  // Runs it; `profile` is the optional PROFILE argument.
  std::function<int(const std::vector<std::string>& profile)> run;
};

std::unique_ptr<EventLog> OpenEvents(int* error) {
  *error = 0;
  if (absl::GetFlag(FLAGS_events).empty()) return EventLog::Null();
  auto log = EventLog::Open(absl::GetFlag(FLAGS_events));
  if (!log.ok()) {
    *error = BadInput(log.status());
    return nullptr;
  }
  return std::move(*log);
}

// A guest-plane scenario: its profile (the shipped configs/reproduce-NAME.yaml
// unless PROFILE is given) holds the load and the budgets.
int RunGuestScenario(const vmm::GuestScenario& s, const std::vector<std::string>& profile) {
  if (profile.size() > 1) return BadInput("reproduce: give at most one PROFILE");
  ProfileOptions opts;
  opts.fold_cpus = absl::GetFlag(FLAGS_fold_cpus);
  absl::StatusOr<RunSpec> spec =
      LoadProfileOrShipped(profile.empty() ? s.profile : profile[0], opts);
  if (!spec.ok()) return BadInput(spec.status());
  int error;
  std::unique_ptr<EventLog> events = OpenEvents(&error);
  if (events == nullptr) return error;
  vmm::GuestReproOptions o;
  if (!absl::GetFlag(FLAGS_json)) {
    o.out = [](const std::string& line) {
      std::fputs(line.c_str(), stdout);
      if (!line.empty() && line.back() != '\n') std::fputc('\n', stdout);
      std::fflush(stdout);
    };
  }
  absl::StatusOr<Reproduction> r = s.run(*spec, o);
  if (!r.ok()) return BadInput(absl::StrCat("reproduce ", s.name, ": ", r.status().message()));
  events->Emit("reproduce", ReproductionToJson(*r));
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", ReproductionToJson(*r).dump().c_str());
  } else {
    std::fputs(RenderReproduction(*r).c_str(), stdout);
  }
  return r->Pass() ? kExitClean : kExitFound;
}

int LostHostIpi(const std::vector<std::string>& profile) {
  if (!profile.empty()) {
    return BadInput("reproduce lost-host-ipi: takes no PROFILE yet; use its flags (--helpfull)");
  }
  hostipi::ReproduceOptions o;
  o.scenario = absl::GetFlag(FLAGS_scenario);
  absl::StatusOr<hostipi::OrderingMode> mode =
      hostipi::ParseOrderingMode(absl::GetFlag(FLAGS_mode));
  if (!mode.ok()) return BadInput(absl::StrCat("--mode: ", mode.status().message()));
  o.mode = *mode;
  o.num_cpus = absl::GetFlag(FLAGS_cpus);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.buggy_budget = absl::GetFlag(FLAGS_buggy_budget);
  o.fixed_budget = absl::GetFlag(FLAGS_fixed_budget);
  o.fixed_doorbells = absl::GetFlag(FLAGS_fixed_doorbells);
  o.threshold_ns = absl::GetFlag(FLAGS_threshold);
  if (!absl::GetFlag(FLAGS_pin).empty()) {
    absl::StatusOr<std::vector<int>> pin = ParseCpuset(absl::GetFlag(FLAGS_pin));
    if (!pin.ok()) return BadInput(absl::StrCat("--pin: ", pin.status().message()));
    o.pin_cpus = *pin;
  }
  o.buggy_model = absl::GetFlag(FLAGS_buggy_model);
  o.fixed_model = absl::GetFlag(FLAGS_fixed_model);

  int error;
  std::unique_ptr<EventLog> events = OpenEvents(&error);
  if (events == nullptr) return error;
  EventLog* ev = events.get();
  o.on_stall = [ev](const hostipi::StallReport& report) {
    ev->Emit("stall", nlohmann::json::parse(hostipi::StallReportToJson(report)));
  };
  absl::StatusOr<hostipi::ReproduceResult> r = hostipi::Reproduce(o);
  if (!r.ok()) return BadInput(absl::StrCat("reproduce lost-host-ipi: ", r.status().message()));
  events->Emit("reproduce", nlohmann::json::parse(hostipi::ReproduceResultToJson(*r)));
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", hostipi::ReproduceResultToJson(*r).c_str());
  } else {
    std::fputs(hostipi::RenderReproduceResult(*r).c_str(), stdout);
  }
  return r->pass ? kExitClean : kExitFound;
}

// Every scenario: the host plane's first, then the guest plane's.
const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario>* kScenarios = [] {
    auto* v = new std::vector<Scenario>{
        {"lost-host-ipi", "3a83f677",
         "POWER9 host: a reordered store leaves host_ipi 0 while a message is set, the "
         "doorbell is ignored and callers spin in csd_lock_wait(); fix: smp_mb() before "
         "setting and after clearing kvm_hstate.host_ipi",
         LostHostIpi},
    };
    for (const vmm::GuestScenario& g : vmm::GuestScenarios()) {
      v->push_back({g.name, g.commit, absl::StrCat(g.bug, "; fix: ", g.fix),
                    [&g](const std::vector<std::string>& profile) {
                      return RunGuestScenario(g, profile);
                    }});
    }
    return v;
  }();
  return *kScenarios;
}

}  // namespace

int ReproduceCommand(const std::vector<std::string>& args) {
  std::string usage = "usage: kvmbed reproduce NAME [PROFILE] [--flags] | kvmbed reproduce --list";
  if (args.size() == 1 && (args[0] == "--list" || args[0] == "list")) {
    for (const Scenario& s : Scenarios()) {
      std::printf("%-20s %-12s %s\n", s.name.c_str(), s.commit.c_str(), s.summary.c_str());
    }
    return kExitClean;
  }
  if (args.empty()) return BadInput(usage);
  std::vector<std::string> profile(args.begin() + 1, args.end());
  for (const Scenario& s : Scenarios()) {
    if (args[0] == s.name || args[0] == s.commit) return s.run(profile);
  }
  std::string names;
  for (const Scenario& s : Scenarios()) absl::StrAppend(&names, "\n  ", s.name, " (", s.commit, ")");
  return BadInput(absl::StrCat("reproduce: unknown scenario '", args[0],
                               "'; kvmbed reproduce --list shows them:", names));
}

}  // namespace kvmbed
