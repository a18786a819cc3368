#include "tools/flags.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "base/input.h"

ABSL_FLAG(bool, fold_cpus, false,
          "Map a profile written for a larger host onto this one: profile CPU c "
          "becomes the (c mod H)-th CPU kvmbed may use (H of them).");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(),
          "Override the profile's duration (e.g. 10s, 5m, 20h); 0 keeps it.");
ABSL_FLAG(std::string, events, "",
          "Write every event as JSON lines to this file (flushed per event).");
ABSL_FLAG(std::string, output, "", "Write the result to this file instead of stdout.");
ABSL_FLAG(bool, libvirt, false, "profile export: write libvirt domain XML.");
ABSL_FLAG(int, vcpus, 56, "bench boot: vCPUs per VM.");
ABSL_FLAG(std::string, vmms, "kvmbed,kvmbed-unwatched,qemu-pc,qemu-microvm",
          "bench linux-boot: the VMMs to boot the guest with, kvmbed first.");
ABSL_FLAG(int, runs, 5,
          "bench: repetitions (the median and range are printed); bench soak-overhead: "
          "pairs of on/off rounds (default there 12).");
ABSL_FLAG(double, min_cpu_share, 0.9,
          "bench soak-overhead: a pair counts as clean only when kvmbed used at least this "
          "fraction of the profile's host CPUs in both rounds (other tenants took CPU "
          "otherwise); pairs run until --runs are clean, at most 3x; 0 keeps every pair.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1),
          "bench soak-overhead: time dropped after every VM is online before each "
          "round's measured --duration window.");
ABSL_FLAG(bool, verbose, false, "Log debug detail to stderr.");
ABSL_FLAG(std::string, nested, "auto",
          "Without /dev/kvm, run in a nested L1 under QEMU TCG (tools/nested_kvm.sh): auto "
          "(only when /dev/kvm is absent), yes (always), no (never: exit 2 instead).");
ABSL_FLAG(std::string, inject_fault, "",
          "run: make one vCPU commit a deliberate guest fault to check the error "
          "path: triple, ud, gp, page, divide, bad-port, mmio.");
ABSL_FLAG(int, fault_vcpu, 0, "run: the vCPU that commits --inject-fault.");
ABSL_FLAG(std::string, guest_kernel, "",
          "run: boot this Linux bzImage (overrides guest.kernel; \"default\" = /boot/vmlinuz-*).");
ABSL_FLAG(std::string, system_map, "",
          "run: the Linux guest kernel's System.map (overrides guest.system_map).");
ABSL_FLAG(int, iterations, 2000, "bench ipi: round trips per series.");

// kvmbed reproduce / bench reproduce
ABSL_FLAG(int, scenario, 1,
          "lost-host-ipi: 1 = the sender's stores reordered (emulated-power only), "
          "2 = the receiver's clear reordered (emulated-power or native)");
ABSL_FLAG(std::string, mode, "emulated-power",
          "lost-host-ipi: memory ordering, native or emulated-power (with --plane=kvm the "
          "default is native; emulated-power gives the vCPU and sender threads store buffers "
          "holding up to --store-hold)");
ABSL_FLAG(int, cpus, 0, "reproduce: modelled CPUs / vCPUs (0 = the scenario's default)");
ABSL_FLAG(uint64_t, seed, 1, "reproduce: seed (emulated runs replay exactly)");
ABSL_FLAG(absl::Duration, buggy_budget, absl::Seconds(30),
          "reproduce: wall-time cap of the buggy phase (it ends at the first hang)");
ABSL_FLAG(absl::Duration, fixed_budget, absl::Seconds(20),
          "reproduce: wall-time budget of the fixed phase");
ABSL_FLAG(int64_t, fixed_doorbells, 1000000,
          "lost-host-ipi: end the fixed phase after this many doorbells (0 = budget only)");
ABSL_FLAG(int64_t, threshold, 0,
          "lost-host-ipi: csd stall threshold in ns (native) or virtual ticks (emulated); "
          "0 = calibrated/default");
ABSL_FLAG(std::string, pin, "", "lost-host-ipi: host CPUs for the modelled CPUs, e.g. 0-1");
ABSL_FLAG(std::string, buggy_model, "",
          "reproduce: kernel model of the buggy phase, e.g. v5.3 or v5.4,mb-after-clear=off");
ABSL_FLAG(std::string, fixed_model, "", "reproduce: kernel model of the fixed phase");
ABSL_FLAG(std::string, plane, "model",
          "lost-host-ipi: model = modelled host CPUs on plain threads or emulated POWER "
          "memory; kvm = shape 2 with real KVM vCPU threads as the host CPUs (x86 store "
          "buffer, doorbell = kick out of KVM_RUN)");
ABSL_FLAG(bool, json, false, "reproduce: print the result as one JSON object");
ABSL_FLAG(std::string, explore, "",
          "reproduce lost-host-ipi --explore[=BOUND]: search every execution of the POWER model "
          "with BOUND IPIs per sender (default 2) instead of sampling; the model is "
          "--kernel-model (default v5.3), CPUs --cpus (default 2), window --window. Exit 1: a "
          "lost IPI is reachable (shortest trace printed); 0: proven absent within the bound; "
          "3: stopped (--buggy-budget, state limit) before deciding.");
ABSL_FLAG(std::string, expect, "",
          "bench litmus-catalogue: herdtools7's ppc.allowed (the expected POWER verdicts)");
ABSL_FLAG(int64_t, max_states, 300000,
          "bench litmus-catalogue: explorer states per test before it reports 'limit'");
ABSL_FLAG(std::string, messages, "",
          "reproduce --explore: every sender sends exactly these messages, e.g. rs,rs,cf "
          "(instead of every sequence of BOUND)");
ABSL_FLAG(int, window, 8, "reproduce --explore: in-flight instructions per modelled CPU");

ABSL_FLAG(std::string, junit, "", "soak: write a JUnit XML result to this file.");
ABSL_FLAG(double, scale, 1.0,
          "soak: multiply guest and host stress worker counts and vm_bytes by this factor "
          "(counts rounded, at least 1; sizes rounded down to 4 KiB) to fit a small host. "
          "vCPU counts, pinning, VM memory, durations and thresholds are not scaled.");
ABSL_FLAG(std::string, kernel_model, "",
          "soak: run the modelled POWER host plane (hostipi:) with this kernel model, overriding "
          "the profile: preset[,site=value]..., e.g. v5.3,demux=peek (buggy: the seed's "
          "scenario 2) or v5.4,demux=peek (fixed).");
ABSL_FLAG(bool, stop_on_lost, false,
          "soak: stop in order at the first LOST csd stall (either plane) instead of running "
          "the whole --duration; the exit code is 1 as for any lost IPI.");
ABSL_FLAG(std::string, host_ordering, "",
          "soak: memory ordering of the host plane's CPUs, overriding the profile's "
          "hostipi.ordering: native (this machine's) or emulated-power (a seeded store buffer "
          "per vCPU thread that holds unfenced stores up to --store-hold).");
ABSL_FLAG(absl::Duration, store_hold, absl::ZeroDuration(),
          "soak, and reproduce lost-host-ipi --plane=kvm --mode=emulated-power: the longest "
          "time a store stays buffered (0 = the profile's hostipi.store_hold; seed-soak uses "
          "200ms, the built-in default is 1ms).");
ABSL_FLAG(bool, host_stress, true,
          "soak: run the profile's host_stress: (stress-ng); bench soak-overhead runs it "
          "only when this is given.");
ABSL_FLAG(absl::Duration, status_interval, absl::Seconds(1),
          "soak: period of the status line and the status/heartbeats events.");
ABSL_FLAG(absl::Duration, rss_every, absl::Seconds(10), "bench soak-rss: RSS sample period.");
ABSL_FLAG(double, drop_ipi_fraction, -1,
          "soak: fault injection for tests: vCPU --fault-vcpu of every VM drops this fraction "
          "of its call-function IPIs (overrides the profile's guest.fault); -1 = as profiled.");
ABSL_FLAG(absl::Duration, csd_timeout, absl::ZeroDuration(),
          "soak: csd_lock_wait report threshold of both planes for every VM (guest.csd_timeout "
          "and hostipi.stall_threshold; overrides the profile and the calibration); 0 = as "
          "profiled or calibrated.");
ABSL_FLAG(absl::Duration, soft_lockup, absl::ZeroDuration(),
          "soak: soft-lockup threshold for every VM; 0 = as profiled or calibrated.");

namespace kvmbed {
namespace {
std::set<std::string>& GivenFlags() {
  static auto* given = new std::set<std::string>;
  return *given;
}
}  // namespace

void RecordGivenFlags(const std::vector<std::string>& names) {
  GivenFlags().insert(names.begin(), names.end());
}

bool FlagGiven(const std::string& name) { return GivenFlags().count(name) > 0; }

namespace {

// "fold_cpus" -> "--fold-cpus", as users type it.
std::string Dashed(absl::string_view name) {
  return absl::StrCat("--", absl::StrReplaceAll(name, {{"_", "-"}}));
}

// A kvmbed flag (defined in this file), or nullptr: absl's own flags
// (--flagfile, --fromenv, ...) are not part of kvmbed's command line.
absl::CommandLineFlag* KvmbedFlag(const std::string& name) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr || flag->IsRetired()) return nullptr;
  if (!absl::EndsWith(flag->Filename(), "tools/flags.cc")) return nullptr;
  return flag;
}

// Checks what every flag of a type must satisfy, whatever the command.
absl::Status CheckValue(const absl::CommandLineFlag& flag, absl::string_view text) {
  if (absl::optional<absl::Duration> d = flag.TryGet<absl::Duration>()) {
    if (*d == absl::InfiniteDuration() || *d == -absl::InfiniteDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          Dashed(flag.Name()), "=", Excerpt(text), ": give a finite duration, e.g. ",
          Dashed(flag.Name()), "=10s"));
    }
    if (*d < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          Dashed(flag.Name()), "=", Excerpt(text), ": must not be negative; e.g. ",
          Dashed(flag.Name()), "=10s"));
    }
  }
  if (absl::optional<double> v = flag.TryGet<double>()) {
    if (!std::isfinite(*v)) {
      return absl::InvalidArgumentError(absl::StrCat(
          Dashed(flag.Name()), "=", Excerpt(text), ": give a finite number"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseFlags(const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  std::vector<std::string> given;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    // `reproduce --list` names a verb, not a flag.
    if (a == "--list" || a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    // --explore takes an optional value: bare, it means the default bound.
    if (a == "--explore") {
      std::string error;
      if (!KvmbedFlag("explore")->ParseFrom("default", &error)) {
        return absl::InternalError(error);
      }
      given.push_back("explore");
      continue;
    }
    absl::string_view body = a;
    body.remove_prefix(a.size() > 1 && a[1] == '-' ? 2 : 1);
    const size_t eq = body.find('=');
    std::string name = absl::StrReplaceAll(body.substr(0, eq), {{"-", "_"}});
    absl::optional<std::string> value;
    if (eq != absl::string_view::npos) value = std::string(body.substr(eq + 1));
    absl::CommandLineFlag* flag = KvmbedFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no") && !value.has_value()) {
      absl::CommandLineFlag* negated = KvmbedFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        flag = negated;
        name = name.substr(2);
        value = "false";
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown flag ", Excerpt(a), "; kvmbed --helpfull lists the flags, kvmbed --help "
          "the commands"));
    }
    if (!value.has_value()) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < args.size() && !absl::StartsWith(args[i + 1], "--")) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            Dashed(name), " needs a value; write ", Dashed(name), "=VALUE (",
            flag->Help().substr(0, 200), ")"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      // absl's message quotes the whole value: say it with an excerpt.
      const bool duration = flag->IsOfType<absl::Duration>();
      const char* what = duration                      ? "a duration with a unit"
                         : flag->IsOfType<bool>()      ? "true or false"
                         : flag->IsOfType<double>()    ? "a number"
                                                       : "a whole number in range";
      return absl::InvalidArgumentError(absl::StrCat(
          Dashed(name), "=", Excerpt(*value), ": not ", what, "; e.g. ", Dashed(name), "=",
          duration ? std::string("10s") : flag->DefaultValue()));
    }
    absl::Status st = CheckValue(*flag, *value);
    if (!st.ok()) return st;
    given.push_back(name);
  }
  GivenFlags().clear();  // this command line's flags only
  RecordGivenFlags(given);
  return positional;
}

absl::Status OnlyFlags(const std::string& context, const std::vector<std::string>& applicable) {
  std::vector<std::string> refused;
  for (const std::string& name : GivenFlags()) {
    if (name == "verbose" || name == "nested") continue;  // every command takes these
    if (std::find(applicable.begin(), applicable.end(), name) == applicable.end()) {
      refused.push_back(Dashed(name));
    }
  }
  if (refused.empty()) return absl::OkStatus();
  std::vector<std::string> takes;
  for (const std::string& name : applicable) takes.push_back(Dashed(name));
  return absl::InvalidArgumentError(absl::StrCat(
      absl::StrJoin(refused, ", "), refused.size() == 1 ? " does" : " do", " not apply to ",
      context, "; remove ", refused.size() == 1 ? "it" : "them", " (",
      takes.empty() ? std::string("it takes no flags")
                    : absl::StrCat("it takes ", absl::StrJoin(takes, ", ")),
      ")"));
}
}  // namespace kvmbed
