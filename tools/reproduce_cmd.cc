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
#include "hostipi/explore_host_ipi.h"
#include "hostipi/kernel_model.h"
#include "hostipi/reproduce.h"
#include "hostipi/stall_report.h"
#include "hostipi/wakelist.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/stop_signal.h"
#include "vmm/guest_repro.h"
#include "vmm/host_plane.h"

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

// muxed-ipi-wakelist on the hostipi memory model: options from its profile
// (configs/reproduce-muxed-ipi-wakelist.yaml unless PROFILE is given), then
// the --seed / --cpus / --*-model flags when set on the command line.
int MuxedIpiWakelist(const std::vector<std::string>& profile) {
  absl::Status flags = OnlyFlags("reproduce muxed-ipi-wakelist",
                                 {"fold_cpus", "cpus", "buggy_model", "fixed_model", "events", "json"});
  if (!flags.ok()) return BadInput(flags);
  if (profile.size() > 1) return BadInput("reproduce: give at most one PROFILE");
  ProfileOptions opts;
  opts.fold_cpus = absl::GetFlag(FLAGS_fold_cpus);
  absl::StatusOr<RunSpec> spec = LoadProfileOrShipped(
      profile.empty() ? "configs/reproduce-muxed-ipi-wakelist.yaml" : profile[0], opts);
  if (!spec.ok()) return BadInput(spec.status());
  absl::StatusOr<hostipi::WakelistOptions> o = hostipi::WakelistOptionsFromSpec(*spec);
  if (!o.ok()) return BadInput(o.status());
  if (absl::GetFlag(FLAGS_cpus) > 0) o->num_cpus = absl::GetFlag(FLAGS_cpus);
  if (!absl::GetFlag(FLAGS_buggy_model).empty()) o->buggy_model = absl::GetFlag(FLAGS_buggy_model);
  if (!absl::GetFlag(FLAGS_fixed_model).empty()) o->fixed_model = absl::GetFlag(FLAGS_fixed_model);
  int error;
  std::unique_ptr<EventLog> events = OpenEvents(&error);
  if (events == nullptr) return error;
  return FinishReproduction("muxed-ipi-wakelist", hostipi::ReproduceMuxedIpiWakelist(*o), *events);
}

// A guest-plane scenario: its profile (the shipped configs/reproduce-NAME.yaml
// unless PROFILE is given) holds the load and the budgets.
int RunGuestScenario(const vmm::GuestScenario& s, const std::vector<std::string>& profile) {
  absl::Status flags = OnlyFlags(absl::StrCat("reproduce ", s.name), {"fold_cpus", "events", "json"});
  if (!flags.ok()) return BadInput(flags);
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
  return FinishReproduction(s.name, s.run(*spec, o), *events);
}

// lost-host-ipi --plane=kvm: shape 2 with a KVM vCPU thread as the target
// host CPU (its doorbell is a kick out of KVM_RUN) and a pinned sender.
int LostHostIpiOnKvm(const ReproduceSpec& p) {
  vmm::KvmReproOptions o;
  if (FlagGiven("scenario") && absl::GetFlag(FLAGS_scenario) != 2) {
    return BadInput("reproduce lost-host-ipi --plane=kvm: only --scenario=2 (the receiver's "
                    "clear) can happen on x86 vCPU threads");
  }
  if (FlagGiven("mode")) {
    // native (default here): x86's store buffer; emulated-power: a seeded
    // POWER-like store buffer per thread (hostipi ThreadStoreBuffers).
    absl::StatusOr<hostipi::OrderingMode> mode =
        hostipi::ParseOrderingMode(absl::GetFlag(FLAGS_mode));
    if (!mode.ok()) return BadInput(absl::StrCat("--mode: ", mode.status().message()));
    o.ordering = *mode;
  }
  if (FlagGiven("store_hold")) {
    if (o.ordering != hostipi::OrderingMode::kEmulatedPower) {
      return BadInput("--store-hold: only with --mode=emulated-power");
    }
    o.store_hold = absl::GetFlag(FLAGS_store_hold);
  }
  o.buggy_budget = FlagGiven("buggy_budget") ? absl::GetFlag(FLAGS_buggy_budget) : p.buggy_budget;
  o.fixed_budget = FlagGiven("fixed_budget") ? absl::GetFlag(FLAGS_fixed_budget) : p.fixed_budget;
  o.fixed_doorbells =
      FlagGiven("fixed_doorbells") ? absl::GetFlag(FLAGS_fixed_doorbells) : p.fixed_operations;
  if (FlagGiven("threshold")) o.threshold = absl::Nanoseconds(absl::GetFlag(FLAGS_threshold));
  if (FlagGiven("pin")) {
    absl::StatusOr<std::vector<int>> pin = ParseCpuset(absl::GetFlag(FLAGS_pin));
    if (!pin.ok()) return BadInput(absl::StrCat("--pin: ", pin.status().message()));
    if (pin->size() != 2) return BadInput("--pin: give two CPUs: the sender's, then the vCPU's");
    o.pin_cpus = *pin;
  }
  if (FlagGiven("buggy_model")) o.buggy_model = absl::GetFlag(FLAGS_buggy_model);
  if (FlagGiven("fixed_model")) o.fixed_model = absl::GetFlag(FLAGS_fixed_model);
  if (!absl::GetFlag(FLAGS_json)) {
    o.out = [](const std::string& text) {
      std::fputs(text.c_str(), stdout);
      std::fflush(stdout);
    };
  }
  int error;
  std::unique_ptr<EventLog> events = OpenEvents(&error);
  if (events == nullptr) return error;
  return FinishReproduction("lost-host-ipi", vmm::ReproduceLostHostIpiOnKvm(o), *events);
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

// lost-host-ipi: options from its profile (configs/reproduce-lost-host-ipi.yaml
// unless PROFILE is given), then any reproduce flag given on the command line.
int LostHostIpi(const std::vector<std::string>& profile) {
  if (FlagGiven("explore")) {
    absl::Status flags = OnlyFlags("reproduce lost-host-ipi --explore",
                                   {"explore", "kernel_model", "buggy_model", "cpus", "window",
                                    "messages", "buggy_budget", "fold_cpus"});
    if (!flags.ok()) return BadInput(flags);
  } else {
    // Both planes take these; --cpus/--seed only the model, --store-hold only kvm.
    std::vector<std::string> applicable = {
        "plane",     "scenario",    "mode",        "buggy_budget", "fixed_budget",
        "fixed_doorbells", "threshold", "pin", "buggy_model",  "fixed_model",
        "json",      "events",      "fold_cpus"};
    const bool kvm = absl::GetFlag(FLAGS_plane) == "kvm";
    for (const char* f : kvm ? std::vector<const char*>{"store_hold"}
                             : std::vector<const char*>{"cpus", "seed"}) {
      applicable.push_back(f);
    }
    absl::Status flags = OnlyFlags(
        absl::StrCat("reproduce lost-host-ipi --plane=", kvm ? "kvm" : "model"), applicable);
    if (!flags.ok()) return BadInput(flags);
  }
  if (profile.size() > 1) return BadInput("reproduce: give at most one PROFILE");
  ProfileOptions opts;
  opts.fold_cpus = absl::GetFlag(FLAGS_fold_cpus);
  absl::StatusOr<RunSpec> spec = LoadProfileOrShipped(
      profile.empty() ? "configs/reproduce-lost-host-ipi.yaml" : profile[0], opts);
  if (!spec.ok()) return BadInput(spec.status());
  const ReproduceSpec& p = spec->reproduce;
  if (p.scenario != "lost-host-ipi") {
    return BadInput(absl::StrCat(spec->source, ": reproduce.scenario is '", p.scenario,
                                 "'; this profile is not for lost-host-ipi"));
  }
  if (FlagGiven("explore")) return ExploreLostHostIpiCmd();
  if (absl::GetFlag(FLAGS_plane) == "kvm") return LostHostIpiOnKvm(p);
  if (absl::GetFlag(FLAGS_plane) != "model") {
    return BadInput(absl::StrCat("--plane: '", absl::GetFlag(FLAGS_plane),
                                 "' is not a plane; use model or kvm"));
  }
  hostipi::ReproduceOptions o;
  o.scenario = FlagGiven("scenario") ? absl::GetFlag(FLAGS_scenario) : p.lhi_shape;
  const std::string mode_text = FlagGiven("mode") ? absl::GetFlag(FLAGS_mode) : p.lhi_mode;
  absl::StatusOr<hostipi::OrderingMode> mode = hostipi::ParseOrderingMode(mode_text);
  if (!mode.ok()) return BadInput(absl::StrCat("--mode: ", mode.status().message()));
  o.mode = *mode;
  o.num_cpus = FlagGiven("cpus") ? absl::GetFlag(FLAGS_cpus) : p.lhi_cpus;
  o.seed = FlagGiven("seed") ? absl::GetFlag(FLAGS_seed) : p.seed;
  o.buggy_budget = FlagGiven("buggy_budget") ? absl::GetFlag(FLAGS_buggy_budget) : p.buggy_budget;
  o.fixed_budget = FlagGiven("fixed_budget") ? absl::GetFlag(FLAGS_fixed_budget) : p.fixed_budget;
  o.fixed_doorbells =
      FlagGiven("fixed_doorbells") ? absl::GetFlag(FLAGS_fixed_doorbells) : p.fixed_operations;
  o.threshold_ns = FlagGiven("threshold") ? absl::GetFlag(FLAGS_threshold) : p.lhi_threshold;
  o.pin_cpus = p.lhi_pin;
  if (FlagGiven("pin")) {
    absl::StatusOr<std::vector<int>> pin = ParseCpuset(absl::GetFlag(FLAGS_pin));
    if (!pin.ok()) return BadInput(absl::StrCat("--pin: ", pin.status().message()));
    o.pin_cpus = *pin;
  }
  o.buggy_model = FlagGiven("buggy_model") ? absl::GetFlag(FLAGS_buggy_model) : p.lhi_buggy_model;
  o.fixed_model = FlagGiven("fixed_model") ? absl::GetFlag(FLAGS_fixed_model) : p.lhi_fixed_model;

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
        {"muxed-ipi-wakelist", "9fb1b36ca1",
         "rq->wake_list update not ordered with ipi_message: the receiver demuxes RESCHEDULE "
         "but scheduler_ipi() sees an empty wake_list and the woken task sticks in TASK_WAKING; "
         "fix: full barrier in smp_muxed_ipi_message_pass(), xchg() not xchg_local() in "
         "smp_ipi_demux()",
         MuxedIpiWakelist},
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
    absl::Status flags = OnlyFlags("reproduce --list", {});
    if (!flags.ok()) return BadInput(flags);
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
