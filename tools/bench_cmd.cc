// `kvmbed bench boot|...`: benchmarks that print their figures (medians and
// ranges from one run; these machines are shared and noisy).
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/common.h"
#include "bench/boot_bench.h"
#include "bench/linux_boot_bench.h"
#include "runner/ipi_latency.h"
#include "scenarios/guest_scenario.h"
#include "hostipi/herd_litmus.h"
#include "hostipi/litmus_catalogue.h"
#include "hostipi/reproduce.h"
#include "hostipi/wakelist.h"
#include "scenarios/muxed_ipi_wakelist.h"
#include "configs/profile.h"

namespace kvmbed {
namespace {

int BenchBoot() {
  bench::BootBenchOptions opts;
  opts.vcpus = absl::GetFlag(FLAGS_vcpus);
  opts.runs = absl::GetFlag(FLAGS_runs);
  if (opts.vcpus < 1 || opts.vcpus > kMaxVcpus) {
    return BadInput(absl::StrCat("bench boot: --vcpus=", opts.vcpus, ": give 1 to ", kMaxVcpus,
                                 " (guest/abi.h kMaxVcpus)"));
  }
  if (opts.runs < 1) return BadInput("bench boot: --runs must be at least 1");
  absl::StatusOr<bench::BootBenchResult> r = bench::RunBootBench(opts);
  if (!r.ok()) return BadInput(absl::StrCat("bench boot: ", r.status().message()));
  std::printf("%s\n", bench::FormatBootBench(*r).c_str());
  return kExitClean;
}

// Between vCPUs 0 and 1 of the profile's first VM, pinned as it pins them;
// without a profile, vCPU 0 on the first host CPU kvmbed may use and vCPU 1
// on the second (the same pair kvm-unit-tests' `-smp 2` gets on an idle box).
int BenchIpi(const std::vector<std::string>& profile) {
  absl::StatusOr<RunSpec> spec = LoadRunSpec(profile);
  if (!spec.ok()) return BadInput(spec.status());
  if (profile.empty()) {
    const std::vector<int>& host = spec->host_cpus;
    VmSpec& vm = spec->vms[0];
    vm.vcpu_affinity[0] = {host[0]};
    vm.vcpu_affinity[1] = {host[1 % host.size()]};
  }
  int iterations = absl::GetFlag(FLAGS_iterations);
  if (iterations < 10) return BadInput("bench ipi: --iterations must be at least 10");
  absl::StatusOr<runner::IpiBenchReport> r = runner::RunIpiBenchSuite(spec->vms[0], iterations);
  if (!r.ok()) return BadInput(absl::StrCat("bench ipi: ", r.status().message()));
  std::printf("%s", runner::FormatIpiBenchReport(*r).c_str());
  return kExitClean;
}

// Median time to reproduce and operation rates of one scenario, buggy runs
// with seeds 1..--runs, plus one fixed run.
int BenchReproduce(const std::vector<std::string>& args) {
  if (args.size() != 1) return BadInput("usage: kvmbed bench reproduce NAME [--runs N]");
  const int runs = absl::GetFlag(FLAGS_runs);
  if (runs < 1) return BadInput("bench reproduce: --runs must be at least 1");
  if (args[0] == "lost-host-ipi" || args[0] == "3a83f677") {
    absl::Status flags = OnlyFlags("bench reproduce lost-host-ipi", {"runs", "fixed_doorbells"});
    if (!flags.ok()) return BadInput(flags);
    hostipi::BenchOptions o;
    o.runs = runs;
    o.fixed_doorbells = absl::GetFlag(FLAGS_fixed_doorbells);
    absl::StatusOr<std::vector<hostipi::BenchRow>> rows = hostipi::RunReproduceBench(o);
    if (!rows.ok()) return BadInput(absl::StrCat("bench reproduce: ", rows.status().message()));
    std::printf("%s", hostipi::RenderBench(*rows).c_str());
    return kExitClean;
  }
  ProfileOptions opts;
  opts.fold_cpus = absl::GetFlag(FLAGS_fold_cpus);
  if (args[0] == "muxed-ipi-wakelist" || args[0] == "9fb1b36ca1") {
    absl::Status flags =
        OnlyFlags("bench reproduce muxed-ipi-wakelist", {"runs", "fold_cpus", "cpus"});
    if (!flags.ok()) return BadInput(flags);
    absl::StatusOr<ScenarioProfile> profile =
        LoadScenarioProfile("configs/reproduce-muxed-ipi-wakelist.yaml", opts);
    if (!profile.ok()) return BadInput(profile.status());
    absl::StatusOr<hostipi::WakelistOptions> o = scenarios::WakelistOptionsFromProfile(*profile);
    if (!o.ok()) return BadInput(o.status());
    if (absl::GetFlag(FLAGS_cpus) > 0) o->num_cpus = absl::GetFlag(FLAGS_cpus);
    absl::StatusOr<hostipi::WakelistBench> b = hostipi::RunWakelistBench(*o, runs);
    if (!b.ok()) return BadInput(absl::StrCat("bench reproduce: ", b.status().message()));
    std::printf("%s", hostipi::RenderWakelistBench(*o, *b).c_str());
    return kExitClean;
  }
  const auto* s = dynamic_cast<const scenarios::GuestScenario*>(scenarios::FindScenario(args[0]));
  if (s == nullptr) {
    return BadInput(absl::StrCat("bench reproduce: unknown scenario '", args[0],
                                 "'; kvmbed reproduce --list shows them"));
  }
  absl::Status flags =
      OnlyFlags(absl::StrCat("bench reproduce ", s->Name()), {"runs", "fold_cpus"});
  if (!flags.ok()) return BadInput(flags);
  absl::StatusOr<ScenarioProfile> profile = LoadScenarioProfile(s->Profile(), opts);
  if (!profile.ok()) return BadInput(profile.status());
  absl::StatusOr<scenarios::GuestReproBench> b =
      scenarios::BenchGuestScenario(*s, *profile, runs, absl::Seconds(5));
  if (!b.ok()) return BadInput(absl::StrCat("bench reproduce: ", b.status().message()));
  std::printf("%s", scenarios::FormatGuestReproBench(*b).c_str());
  return kExitClean;
}

// litmus-catalogue DIR: herdtools7 POWER tests through the explorer and the
// sampled emulated-power mode; --expect=ppc.allowed gives herd's verdicts.
int BenchLitmusCatalogue(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return BadInput("usage: kvmbed bench litmus-catalogue DIR [--expect=ppc.allowed] "
                    "[--iterations N] [--runs N (tests, 0 = all)] [--seed S] [--max-states N]");
  }
  hostipi::CatalogueOptions o;
  o.dir = args[0];
  if (FlagGiven("iterations")) o.iterations = absl::GetFlag(FLAGS_iterations);
  if (FlagGiven("runs")) o.limit = absl::GetFlag(FLAGS_runs);
  if (FlagGiven("seed")) o.seed = absl::GetFlag(FLAGS_seed);
  o.max_states = absl::GetFlag(FLAGS_max_states);
  if (FlagGiven("expect")) {
    std::ifstream in(absl::GetFlag(FLAGS_expect));
    if (!in) return BadInput(absl::StrCat("--expect: cannot read ", absl::GetFlag(FLAGS_expect)));
    std::stringstream ss;
    ss << in.rdbuf();
    o.expect = hostipi::ParseHerdAllowed(ss.str());
    o.seen_on_hardware = hostipi::ParseHerdSeenOnHardware(ss.str());
  }
  std::fputs(hostipi::CatalogueHeader().c_str(), stdout);
  o.on_row = [](const hostipi::CatalogueRow& row) {
    std::fputs(hostipi::FormatCatalogueRow(row).c_str(), stdout);
    std::fflush(stdout);
  };
  absl::StatusOr<hostipi::CatalogueResult> r = hostipi::RunCatalogue(o);
  if (!r.ok()) return BadInput(absl::StrCat("bench litmus-catalogue: ", r.status().message()));
  std::fputs(hostipi::RenderCatalogue(*r, /*rows=*/false).c_str(), stdout);
  return kExitClean;
}

// The same Linux guest under kvmbed, QEMU -M pc and QEMU -M microvm, in
// alternating rounds; the profile (optional) gives the kernel, initramfs,
// command line, vCPUs and memory, its commands are left out.
int BenchLinuxBoot(const std::vector<std::string>& profile) {
  bench::LinuxBootBenchOptions o;
  o.kvmbed = "/proc/self/exe";
  o.runs = absl::GetFlag(FLAGS_runs);
  if (o.runs < 1) return BadInput("bench linux-boot: --runs must be at least 1");
  if (profile.size() > 1) return BadInput("usage: kvmbed bench linux-boot [PROFILE] [--runs N] [--vmms LIST]");
  if (!profile.empty()) {
    absl::StatusOr<RunSpec> spec = LoadRunSpec(profile);
    if (!spec.ok()) return BadInput(spec.status());
    const LinuxGuestSpec& lg = spec->guest.linux;
    if (!lg.present) {
      return BadInput(absl::StrCat(profile[0], ": guest.kernel: not set; bench linux-boot boots a "
                                   "Linux guest (set guest.kernel: default, or give no profile)"));
    }
    o.kernel = lg.kernel;
    o.initrd = lg.initrd;
    o.cmdline = lg.cmdline;
    o.timeout = lg.timeout;
    o.vcpus = spec->vms[0].vcpus;
    o.memory_bytes = spec->vms[0].memory_bytes;
  }
  if (!absl::GetFlag(FLAGS_guest_kernel).empty()) o.kernel = absl::GetFlag(FLAGS_guest_kernel);
  o.vmms = absl::StrSplit(absl::GetFlag(FLAGS_vmms), ',', absl::SkipEmpty());
  for (const std::string& v : o.vmms) {
    if (!bench::IsLinuxBootVmm(v)) {
      return BadInput(absl::StrCat("bench linux-boot: --vmms: unknown VMM '", v,
                                   "'; give a comma list of kvmbed, kvmbed-unwatched, qemu-pc, qemu-microvm"));
    }
  }
  if (o.vmms.empty() || o.vmms[0] != "kvmbed") {
    return BadInput("bench linux-boot: --vmms must start with kvmbed (its boot resolves the guest "
                    "the others get)");
  }
  // Consoles, logs and profiles stay for reading: --output=DIR, else a new
  // directory here (both are writable from a nested L1).
  std::string dir = absl::GetFlag(FLAGS_output);
  if (dir.empty()) {
    char tmpl[] = "kvmbed-linux-boot-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      return BadInput("bench linux-boot: cannot create a directory here; give --output=DIR");
    }
    dir = tmpl;
  }
  o.work_dir = dir;
  std::printf("linux-boot: %d round(s) of %s; consoles and logs in %s\n", o.runs,
              absl::StrJoin(o.vmms, ", ").c_str(), dir.c_str());
  std::fflush(stdout);
  absl::StatusOr<bench::LinuxBootBenchResult> r = bench::RunLinuxBootBench(o);
  if (!r.ok()) return BadInput(absl::StrCat("bench linux-boot: ", r.status().message()));
  std::printf("%s", bench::FormatLinuxBootBench(*r).c_str());
  return kExitClean;
}

}  // namespace

int BenchCommand(const std::vector<std::string>& args) {
  const char* usage =
      "usage: kvmbed bench boot [--vcpus N] [--runs N]     VM creation -> all vCPUs online\n"
      "       kvmbed bench ipi [PROFILE] [--iterations N]   on_cpu IPI round trip, target hlt/spinning\n"
      "       kvmbed bench reproduce NAME [--runs N]        median time to reproduce, operations/s\n"
      "       kvmbed bench litmus-catalogue DIR [--expect F] herd POWER tests: explorer and sampled mode\n"
      "       kvmbed bench linux-boot [PROFILE] [--runs N] [--vmms LIST] [--output DIR]\n"
      "                                                    one Linux guest: kvmbed against QEMU";
  if (args.empty()) return BadInput(usage);
  std::printf("%s", KvmHostLine().c_str());
  if (args[0] == "boot" || args[0] == "ipi") {
    absl::Status flags =
        OnlyFlags(absl::StrCat("bench ", args[0]),
                  args[0] == "boot" ? std::vector<std::string>{"vcpus", "runs"}
                                    : std::vector<std::string>{"fold_cpus", "duration", "iterations"});
    if (!flags.ok()) return BadInput(flags);
  }
  if (args[0] == "litmus-catalogue") {
    absl::Status flags = OnlyFlags("bench litmus-catalogue",
                                   {"expect", "iterations", "runs", "seed", "max_states"});
    if (!flags.ok()) return BadInput(flags);
  }
  if (args[0] == "linux-boot") {
    absl::Status flags = OnlyFlags("bench linux-boot", {"runs", "vmms", "guest_kernel", "fold_cpus", "output"});
    if (!flags.ok()) return BadInput(flags);
    return BenchLinuxBoot({args.begin() + 1, args.end()});
  }
  if (args[0] == "boot" && args.size() == 1) return BenchBoot();
  if (args[0] == "ipi") return BenchIpi({args.begin() + 1, args.end()});
  if (args[0] == "reproduce") return BenchReproduce({args.begin() + 1, args.end()});
  if (args[0] == "litmus-catalogue") return BenchLitmusCatalogue({args.begin() + 1, args.end()});
  return BadInput(absl::StrCat("bench: unknown benchmark '", args[0], "'\n", usage));
}

}  // namespace kvmbed
