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
#include "base/cpuset.h"
#include "configs/profile.h"
#include "hostipi/explore_host_ipi.h"
#include "hostipi/kernel_model.h"
#include "nlohmann/json.hpp"
#include "scenarios/scenario.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "base/stop_signal.h"

namespace kvmbed {
namespace {

std::unique_ptr<EventLog> OpenEvents(int* error) {
  *error = 0;
  if (absl::GetFlag(FLAGS_events).empty()) return EventLog::Null();
  IgnoreFileSizeSignal();  // a file size limit gives EFBIG, not a killed run
  auto log = EventLog::Open(absl::GetFlag(FLAGS_events));
  if (!log.ok()) {
    *error = BadInput(log.status());
    return nullptr;
  }
  return std::move(*log);
}

// Prints a Reproduction (text or --json), logs it, and maps it to the exit code.
int FinishReproduction(const std::string& name, const absl::StatusOr<Reproduction>& r,
                       EventLog& events) {
  if (!r.ok()) return BadInput(absl::StrCat("reproduce ", name, ": ", r.status().message()));
  events.Emit("reproduce", ReproductionToJson(*r));
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", ReproductionToJson(*r).dump().c_str());
  } else {
    std::fputs(RenderReproduction(*r).c_str(), stdout);
  }
  return r->Pass() ? kExitClean : kExitFound;
}

// lost-host-ipi --explore[=BOUND]: every execution of the POWER model.
// Exit 1 when a lost IPI is reachable, 0 when proven absent within the
// bound, 3 when the search stopped before deciding, 2 for bad input.
int ExploreLostHostIpiCmd() {
  constexpr int kExitUndecided = 3;
  hostipi::HostIpiExploreOptions o;
  const std::string bound = absl::GetFlag(FLAGS_explore);
  if (bound != "default" && (!absl::SimpleAtoi(bound, &o.ipis) || o.ipis < 1)) {
    return BadInput(absl::StrCat("--explore=", bound, ": the bound is a number of IPIs per sender (1..4)"));
  }
  const std::string model_text = FlagGiven("kernel_model")  ? absl::GetFlag(FLAGS_kernel_model)
                                 : FlagGiven("buggy_model") ? absl::GetFlag(FLAGS_buggy_model)
                                                            : "v5.3";
  absl::StatusOr<hostipi::KernelModel> model = hostipi::KernelModel::Parse(model_text);
  if (!model.ok()) return BadInput(absl::StrCat("--kernel-model: ", model.status().message()));
  o.model = *model;
  if (FlagGiven("cpus")) o.cpus = absl::GetFlag(FLAGS_cpus);
  o.window = absl::GetFlag(FLAGS_window);
  if (FlagGiven("messages")) {
    absl::StatusOr<std::vector<int>> seq = hostipi::ParseMessageSequence(absl::GetFlag(FLAGS_messages));
    if (!seq.ok()) return BadInput(absl::StrCat("--messages: ", seq.status().message()));
    o.sequence = *seq;
  }
  if (FlagGiven("buggy_budget")) o.time_budget = absl::GetFlag(FLAGS_buggy_budget);
  absl::StatusOr<hostipi::HostIpiExploreResult> r = hostipi::ExploreLostHostIpi(o);
  if (!r.ok()) return BadInput(absl::StrCat("reproduce lost-host-ipi --explore: ", r.status().message()));
  std::fputs(hostipi::RenderHostIpiExplore(*r).c_str(), stdout);
  if (r->lost) return kExitFound;
  return r->complete ? kExitClean : kExitUndecided;
}

// The command line's overrides of the profile: only the flags given.
scenarios::Overrides OverridesFromFlags() {
  scenarios::Overrides o;
  if (FlagGiven("buggy_budget")) o.buggy_budget = absl::GetFlag(FLAGS_buggy_budget);
  if (FlagGiven("fixed_budget")) o.fixed_budget = absl::GetFlag(FLAGS_fixed_budget);
  if (FlagGiven("fixed_doorbells")) o.fixed_operations = absl::GetFlag(FLAGS_fixed_doorbells);
  if (FlagGiven("seed")) o.seed = absl::GetFlag(FLAGS_seed);
  if (FlagGiven("threshold")) o.threshold = absl::GetFlag(FLAGS_threshold);
  if (FlagGiven("cpus")) o.cpus = absl::GetFlag(FLAGS_cpus);
  if (FlagGiven("buggy_model")) o.buggy_model = absl::GetFlag(FLAGS_buggy_model);
  if (FlagGiven("fixed_model")) o.fixed_model = absl::GetFlag(FLAGS_fixed_model);
  if (FlagGiven("mode")) o.mode = absl::GetFlag(FLAGS_mode);
  if (FlagGiven("scenario")) o.shape = absl::GetFlag(FLAGS_scenario);
  if (FlagGiven("plane")) o.plane = absl::GetFlag(FLAGS_plane);
  if (FlagGiven("store_hold")) o.store_hold = absl::GetFlag(FLAGS_store_hold);
  return o;
}

// One scenario: its profile (the shipped configs/reproduce-NAME.yaml unless
// PROFILE is given), the flags given on the command line, then its run.
int RunScenario(const scenarios::Scenario& s, const std::vector<std::string>& profile) {
  scenarios::Overrides overrides = OverridesFromFlags();
  const bool explore = s.Name() == "lost-host-ipi" && FlagGiven("explore");
  if (explore) {
    absl::Status flags = OnlyFlags("reproduce lost-host-ipi --explore",
                                   {"explore", "kernel_model", "buggy_model", "cpus", "window",
                                    "messages", "buggy_budget", "fold_cpus"});
    if (!flags.ok()) return BadInput(flags);
  } else {
    std::vector<std::string> applicable = s.Flags(overrides);
    for (const char* f : {"fold_cpus", "events", "json"}) applicable.push_back(f);
    std::string what = absl::StrCat("reproduce ", s.Name());
    if (s.Name() == "lost-host-ipi") {
      absl::StrAppend(&what, " --plane=",
                      overrides.plane.value_or(scenarios::kPlaneNames.Name(scenarios::Plane::kModel)));
    }
    absl::Status flags = OnlyFlags(what, applicable);
    if (!flags.ok()) return BadInput(flags);
  }
  if (FlagGiven("pin")) {
    absl::StatusOr<std::vector<int>> pin = ParseCpuset(absl::GetFlag(FLAGS_pin));
    if (!pin.ok()) return BadInput(absl::StrCat("--pin: ", pin.status().message()));
    overrides.pin = *pin;
  }
  if (profile.size() > 1) return BadInput("reproduce: give at most one PROFILE");
  ProfileOptions opts;
  opts.fold_cpus = absl::GetFlag(FLAGS_fold_cpus);
  absl::StatusOr<ScenarioProfile> loaded =
      LoadScenarioProfile(profile.empty() ? s.Profile() : profile[0], opts);
  if (!loaded.ok()) return BadInput(loaded.status());
  absl::Status valid = scenarios::CheckScenarioProfile(*loaded, s.Name());
  if (!valid.ok()) return BadInput(valid);
  if (explore) return ExploreLostHostIpiCmd();

  int error;
  std::unique_ptr<EventLog> events = OpenEvents(&error);
  if (events == nullptr) return error;
  scenarios::ScenarioInput in;
  in.profile = std::move(*loaded);
  in.overrides = std::move(overrides);
  if (!absl::GetFlag(FLAGS_json)) {
    in.out = [](const std::string& text) {
      std::fputs(text.c_str(), stdout);
      if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
      std::fflush(stdout);
    };
  }
  EventLog* ev = events.get();
  in.on_stall = [ev](const std::string& type, const nlohmann::json& fields) {
    ev->Emit(type, fields);
  };
  return FinishReproduction(s.Name(), s.Run(in), *events);
}

}  // namespace

int ReproduceCommand(const std::vector<std::string>& args) {
  std::string usage = "usage: kvmbed reproduce NAME [PROFILE] [--flags] | kvmbed reproduce --list";
  if (args.size() == 1 && (args[0] == "--list" || args[0] == "list")) {
    absl::Status flags = OnlyFlags("reproduce --list", {});
    if (!flags.ok()) return BadInput(flags);
    for (const scenarios::Scenario* s : scenarios::Registry()) {
      std::printf("%-20s %-12s %s; fix: %s\n", s->Name().c_str(), s->Commit().c_str(),
                  s->Bug().c_str(), s->Fix().c_str());
    }
    return kExitClean;
  }
  if (args.empty()) return BadInput(usage);
  std::vector<std::string> profile(args.begin() + 1, args.end());
  if (const scenarios::Scenario* s = scenarios::FindScenario(args[0])) {
    return RunScenario(*s, profile);
  }
  std::string names;
  for (const scenarios::Scenario* s : scenarios::Registry()) {
    absl::StrAppend(&names, "\n  ", s->Name(), " (", s->Commit(), ")");
  }
  return BadInput(absl::StrCat("reproduce: unknown scenario '", args[0],
                               "'; kvmbed reproduce --list shows them:", names));
}

}  // namespace kvmbed
