// `kvmbed soak PROFILE [--duration 20h]` and `kvmbed bench soak-overhead|
// soak-rss PROFILE`: the profile and the soak flags turned into a RunSpec and
// options; the soak itself is runner/soak.h, the benchmarks bench/soak_bench.h.
//
// Flags (tools/flags.cc): --duration (0 = the profile's), --fold-cpus,
// --scale F (stress counts and sizes, see configs/README.md), --events FILE
// (default soak-NAME-YYYYmmdd-HHMMSS.jsonl; stress-ng's YAML and log go to
// FILE.stress-ng.yaml / .log), --junit FILE, --kernel-model M (turns the
// hostipi host plane on with model M), --host-stress=false, --csd-timeout /
// --soft-lockup (both planes' thresholds; else profile, else calibrated),
// --status-interval (status line and events; plain lines on a non-TTY come
// every max(interval, 10 s)), --drop-ipi-fraction F with --fault-vcpu N
// (guest-plane fault injection, for tests), --stop-on-lost. The benchmarks
// take --runs, --warmup, --min-cpu-share (soak-overhead) and --rss-every
// (soak-rss).
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/input.h"
#include "base/status_macros.h"
#include "bench/soak_bench.h"
#include "configs/profile.h"
#include "hostipi/kernel_model.h"
#include "hostipi/ordering_mode.h"
#include "runner/soak.h"
#include "tools/commands.h"
#include "tools/common.h"
#include "tools/flags.h"

namespace kvmbed {
namespace {

// Loads the profile with the flags shared by soak and bench soak-*; `context`
// ("soak", "bench soak-rss") also takes the flags in `extra`.
absl::StatusOr<RunSpec> LoadSoakSpec(const std::vector<std::string>& args,
                                     const std::string& context,
                                     const std::vector<std::string>& extra) {
  if (args.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "soak: expected one PROFILE.yaml, got ", args.size(),
        " arguments; e.g. kvmbed soak configs/seed-soak.yaml --fold-cpus --scale 0.25"));
  }
  ProfileOptions opts;
  opts.fold_cpus = absl::GetFlag(FLAGS_fold_cpus);
  opts.scale = absl::GetFlag(FLAGS_scale);
  if (!(opts.scale > 0 && opts.scale <= 1000)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--scale ", opts.scale, ": give a factor > 0 (e.g. 0.25 for a small host)"));
  }
  absl::StatusOr<RunSpec> spec = LoadProfileOrShipped(args[0], opts);
  if (!spec.ok()) return spec.status();
  absl::Duration d = absl::GetFlag(FLAGS_duration);
  if (d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration: must not be negative; e.g. --duration=20h");
  }
  if (d > absl::ZeroDuration()) spec->duration = d;
  if (!absl::GetFlag(FLAGS_kernel_model).empty()) {
    // The modelled POWER host plane with this kernel model (hostipi/
    // kernel_model.h: preset[,site=value]..., e.g. v5.3 or v5.4), overriding
    // the profile's hostipi.kernel_model and turning the plane on.
    spec->hostipi.enabled = true;
  }
  // The host plane's flags are parsed here; a bad one is reported below,
  // after the check of which flags apply, as the profile's fields are.
  absl::Status host_flags;
  if (!absl::GetFlag(FLAGS_kernel_model).empty()) {
    absl::StatusOr<hostipi::KernelModel> model =
        hostipi::KernelModel::Parse(absl::GetFlag(FLAGS_kernel_model));
    if (model.ok()) {
      spec->hostipi.kernel_model = *model;
    } else {
      host_flags = absl::InvalidArgumentError(
          absl::StrCat("hostipi.kernel_model: ", model.status().message()));
    }
  }
  if (!absl::GetFlag(FLAGS_host_ordering).empty()) {
    absl::StatusOr<hostipi::OrderingMode> mode =
        hostipi::ParseOrderingMode(absl::GetFlag(FLAGS_host_ordering));
    if (mode.ok()) {
      spec->hostipi.ordering = *mode;
    } else if (host_flags.ok()) {
      host_flags = absl::InvalidArgumentError(
          absl::StrCat("hostipi.ordering: ", mode.status().message()));
    }
  }
  if (absl::GetFlag(FLAGS_store_hold) != absl::ZeroDuration()) {
    spec->hostipi.store_hold = absl::GetFlag(FLAGS_store_hold);
  }
  {
    std::vector<std::string> applicable = {
        "fold_cpus",   "scale",       "duration",      "kernel_model", "drop_ipi_fraction",
        "fault_vcpu",  "csd_timeout", "soft_lockup",   "status_interval"};
    applicable.insert(applicable.end(), extra.begin(), extra.end());
    // The host plane's flags only when there is a host plane to apply them to.
    if (spec->hostipi.enabled) {
      applicable.push_back("host_ordering");
      applicable.push_back("store_hold");
    }
    RETURN_IF_ERROR(OnlyFlags(
        spec->hostipi.enabled
            ? context
            : absl::StrCat(context, " of ", spec->source,
                           ", which has no host plane (add --kernel-model=v5.4 or "
                           "hostipi: {enabled: true})"),
        applicable));
  }
  if (spec->hostipi.enabled) {
    // Flags are checked like the profile's hostipi: section (named fields).
    absl::Status host =
        host_flags.ok() ? hostplane::ValidateHostIpiSpec(spec->hostipi) : host_flags;
    if (!host.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          host.message(), " (from the profile's hostipi: section, --kernel-model, "
                          "--host-ordering or --store-hold)"));
    }
  }
  const double drop = absl::GetFlag(FLAGS_drop_ipi_fraction);
  if (drop != -1) {
    if (!(drop >= 0 && drop <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--drop-ipi-fraction ", drop, ": give 0..1 (or -1 for the profile's)"));
    }
    const int v = absl::GetFlag(FLAGS_fault_vcpu);
    for (const VmSpec& vm : spec->vms) {
      if (v < 0 || v >= vm.vcpus) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--fault-vcpu ", v, ": VM ", vm.name, " has vCPUs 0..", vm.vcpus - 1));
      }
      GuestSpec g = spec->GuestFor(vm.name);
      g.drop_ipi_fraction = drop;
      g.fault_vcpu = v;
      spec->vm_guest[vm.name] = g;
    }
  }
  // Threshold overrides (else the profile's, else calibrated at start-up).
  const absl::Duration csd = absl::GetFlag(FLAGS_csd_timeout);
  const absl::Duration lockup = absl::GetFlag(FLAGS_soft_lockup);
  if (csd < absl::ZeroDuration() || lockup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--csd-timeout / --soft-lockup: must be positive; e.g. 2s");
  }
  if (csd > absl::ZeroDuration()) spec->hostipi.stall_threshold = csd;  // both planes
  for (const VmSpec& vm : spec->vms) {
    GuestSpec g = spec->GuestFor(vm.name);
    if (csd > absl::ZeroDuration()) g.csd_timeout = csd;
    if (lockup > absl::ZeroDuration()) g.soft_lockup_threshold = lockup;
    spec->vm_guest[vm.name] = g;
  }
  if (absl::GetFlag(FLAGS_status_interval) <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--status-interval: must be positive; e.g. 1s");
  }
  return spec;
}

// The options every soak shares: what it prints first, what run_start holds.
runner::SoakOptions SoakOptionsFor(const RunSpec& spec) {
  runner::SoakOptions so;
  so.intro = absl::StrCat(KvmHostLine(), FormatRunSpec(spec));
  AddKvmHostFields(&so.run_start_fields);
  return so;
}

}  // namespace

int SoakCommand(const std::vector<std::string>& args) {
  absl::StatusOr<RunSpec> spec =
      LoadSoakSpec(args, "soak", {"events", "junit", "host_stress", "stop_on_lost"});
  if (!spec.ok()) return BadInput(spec.status());
  runner::SoakOptions so = SoakOptionsFor(*spec);
  so.events_path = absl::GetFlag(FLAGS_events);
  if (so.events_path.empty()) so.events_path = runner::DefaultEventsPath(*spec);
  so.junit_path = absl::GetFlag(FLAGS_junit);
  so.host_stress = absl::GetFlag(FLAGS_host_stress);
  so.status_interval = absl::GetFlag(FLAGS_status_interval);
  so.stop_on_lost = absl::GetFlag(FLAGS_stop_on_lost);
  runner::SoakOutcome outcome = runner::RunSoak(*spec, so);
  if (!outcome.error.empty()) BadInput(outcome.error);
  return outcome.exit_code;
}

int SoakBenchCommand(const std::string& which, const std::vector<std::string>& args) {
  if (which != "soak-overhead" && which != "soak-rss") {
    return BadInput(absl::StrCat("bench ", Excerpt(which), ": use soak-overhead or soak-rss"));
  }
  absl::StatusOr<RunSpec> spec = LoadSoakSpec(
      args, absl::StrCat("bench ", which),
      which == "soak-overhead"
          ? std::vector<std::string>{"runs", "warmup", "min_cpu_share", "host_stress"}
          : std::vector<std::string>{"rss_every", "host_stress"});
  if (!spec.ok()) return BadInput(spec.status());
  if (absl::GetFlag(FLAGS_duration) == absl::ZeroDuration()) {
    spec->duration = which == "soak-rss" ? absl::Minutes(10) : absl::Seconds(3);
  }
  const std::string tmp = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  runner::SoakOptions so = SoakOptionsFor(*spec);
  so.quiet = true;
  so.host_stress = absl::GetFlag(FLAGS_host_stress);
  so.status_interval = absl::GetFlag(FLAGS_status_interval);
  absl::Status done;
  if (which == "soak-overhead") {
    // stress-ng does not touch the watchdogs' code path but made the rate
    // swing 15-30% between rounds even on an otherwise idle host (sync()
    // from its io workers, its vm workers' memory traffic): off unless asked.
    if (!FlagGiven("host_stress")) so.host_stress = false;
    bench::SoakOverheadOptions o;
    if (FlagGiven("runs")) o.pairs = absl::GetFlag(FLAGS_runs);
    o.warmup = absl::GetFlag(FLAGS_warmup);
    o.min_cpu_share = absl::GetFlag(FLAGS_min_cpu_share);
    o.tmp_dir = tmp;
    done = bench::SoakOverheadBench(*spec, so, o);
  } else {
    bench::SoakRssOptions o;
    o.every = absl::GetFlag(FLAGS_rss_every);
    o.tmp_dir = tmp;
    done = bench::SoakRssBench(*spec, so, o);
  }
  if (!done.ok()) return BadInput(done);
  return kExitClean;
}

}  // namespace kvmbed
