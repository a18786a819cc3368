// kvmbed: a tiny KVM-based hypervisor testbed. See README.md.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/nested.h"

namespace {

constexpr char kUsage[] =
    "a tiny KVM-based hypervisor testbed\n"
    "\n"
    "usage: kvmbed COMMAND [ARGS] [--flags]\n"
    "  run [PROFILE.yaml]           boot the profile's VMs (built-in default if none)\n"
    "  soak PROFILE.yaml            long run with host stress, status line, event log,\n"
    "                               JUnit (--duration 20h --scale F --junit FILE --events FILE)\n"
    "                               host plane: --kernel-model M --host-ordering O --stop-on-lost\n"
    "  bench boot --vcpus N         time VM creation -> every vCPU online\n"
    "  bench ipi [PROFILE]          on_cpu / csd IPI round trip, target hlt and spinning\n"
    "  bench reproduce NAME         median time to reproduce a scenario, operations/s\n"
    "  bench soak-overhead PROFILE  watchdog cost: IPIs/s on/off in --runs pairs (12), each\n"
    "                               --warmup (1s) dropped then --duration (3s) measured;\n"
    "                               median ratio, IQR, 95% CI, verdict on the 0.99 target;\n"
    "                               pairs where others took CPU are rerun (--min-cpu-share 0.9);\n"
    "                               host stress-ng off unless --host-stress=true\n"
    "  bench soak-rss PROFILE       RSS over a soak (--duration 10m, --rss-every 10s)\n"
    "  reproduce NAME | --list      reproduce a seed lockup, then show the fix holds\n"
    "  reproduce lost-host-ipi --explore[=BOUND]  every execution of the POWER model up to\n"
    "                               BOUND IPIs per sender: shortest lost-IPI trace or a proof\n"
    "  report RUN.jsonl             render a run's event log as one HTML page\n"
    "  profile check|import|export  validate a profile; libvirt domain XML in/out\n"
    "\n"
    "exit codes: 0 clean, 1 a stall/lockup/failure found, 2 bad input or setup error\n"
    "flags accept dashes or underscores (--fold-cpus == --fold_cpus); --helpfull lists them";

// absl flags spell names with underscores; users type dashes. Rewrite the
// name part of every --flag (not its value) before parsing, and note which
// flags were given (they override a profile's values).
std::vector<std::string> NormalizeFlagNames(int argc, char** argv) {
  std::vector<std::string> out;
  std::vector<std::string> given;
  bool after_double_dash = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") after_double_dash = true;
    // --explore takes an optional value: bare, it means the default bound.
    if (!after_double_dash && a == "--explore") a = "--explore=default";
    if (i > 0 && !after_double_dash && a.size() > 2 && a[0] == '-') {
      size_t start = a.find_first_not_of('-');
      size_t end = a.find('=');
      if (end == std::string::npos) end = a.size();
      for (size_t k = start; k < end; ++k) {
        if (a[k] == '-') a[k] = '_';
      }
      given.push_back(a.substr(start, end - start));
    }
    out.push_back(a);
  }
  kvmbed::RecordGivenFlags(given);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> normalized = NormalizeFlagNames(argc, argv);
  std::vector<char*> nargv;
  for (std::string& s : normalized) nargv.push_back(s.data());
  nargv.push_back(nullptr);
  // `reproduce --list` names a verb, not a flag: hide it from the flag parser.
  bool list = false;
  std::vector<char*> kept;
  for (char* a : nargv) {
    if (a != nullptr && std::strcmp(a, "--list") == 0) {
      list = true;
      continue;
    }
    kept.push_back(a);
  }
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(kept.size()) - 1, kept.data());
  if (absl::GetFlag(FLAGS_verbose)) kvmbed::SetLogLevel(kvmbed::LogLevel::kDebug);

  std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (list) args.push_back("--list");
  // Without /dev/kvm, a command that needs it runs in the nested L1.
  if (int code = kvmbed::MaybeRunNested(argc, argv, args); code >= 0) return code;
  if (args.empty()) {
    // The main job on its built-in default: boot the default profile.
    return kvmbed::RunCommand({});
  }
  std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "run") return kvmbed::RunCommand(rest);
  if (cmd == "soak") return kvmbed::SoakCommand(rest);
  if (cmd == "bench" && !rest.empty() && rest[0].rfind("soak-", 0) == 0) {
    return kvmbed::SoakBenchCommand(rest[0], std::vector<std::string>(rest.begin() + 1, rest.end()));
  }
  if (cmd == "bench") return kvmbed::BenchCommand(rest);
  if (cmd == "reproduce") return kvmbed::ReproduceCommand(rest);
  if (cmd == "report") return kvmbed::ReportCommand(rest);
  if (cmd == "profile") return kvmbed::ProfileCommand(rest);
  if (cmd == "help") {
    std::printf("kvmbed: %s\n", kUsage);
    return 0;
  }
  return kvmbed::BadInput(absl::StrCat("unknown command '", cmd, "'\n", kUsage));
}
