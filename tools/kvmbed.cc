// kvmbed: a tiny KVM-based hypervisor testbed. See README.md.
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "base/input.h"
#include "base/log.h"
#include "tools/common.h"
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
    "  bench litmus-catalogue DIR   herdtools7's POWER tests: explorer and sampler vs herd\n"
    "  report RUN.jsonl             render a run's event log as one HTML page\n"
    "  profile check|import|export  validate a profile; libvirt domain XML in/out\n"
    "\n"
    "exit codes: 0 clean, 1 a stall/lockup/failure found, 2 bad input or setup error\n"
    "flags accept dashes or underscores (--fold-cpus == --fold_cpus); --helpfull lists them;\n"
    "a flag a command does not use is refused by name";

// `kvmbed --helpfull`: the commands, then every kvmbed flag with its help.
void PrintFlagsHelp() {
  std::printf("kvmbed: %s\n\n", kUsage);
  std::fflush(stdout);
  std::ostringstream flags;
  absl::flags_internal::FlagsHelp(flags, "tools/flags.cc",
                                  absl::flags_internal::HelpFormat::kHumanReadable, "");
  std::fputs(flags.str().c_str(), stdout);
}

int Dispatch(const std::vector<std::string>& args) {
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
    return kvmbed::kExitClean;
  }
  return kvmbed::BadInput(absl::StrCat("unknown command '", kvmbed::Excerpt(cmd), "'\n", kUsage));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> argl(argv + 1, argv + argc);
  for (const std::string& a : argl) {
    if (a == "--") break;
    if (a == "--help" || a == "-h" || a == "-help" || a == "--helpshort") {
      std::printf("kvmbed: %s\n", kUsage);
      return kvmbed::FinishStdout(kvmbed::kExitClean);
    }
    if (a == "--helpfull" || a == "-helpfull") {
      PrintFlagsHelp();
      return kvmbed::FinishStdout(kvmbed::kExitClean);
    }
  }
  absl::StatusOr<std::vector<std::string>> args = kvmbed::ParseFlags(argl);
  if (!args.ok()) return kvmbed::BadInput(args.status());
  if (absl::GetFlag(FLAGS_verbose)) kvmbed::SetLogLevel(kvmbed::LogLevel::kDebug);
  // No output may be the same file as an input (e.g. report x.jsonl
  // --output=x.jsonl would overwrite the log with its page).
  if (args->size() > 1) {
    std::vector<std::string> inputs(args->begin() + 1, args->end());
    absl::Status st = kvmbed::RefuseOutputsOverInputs(inputs);
    if (!st.ok()) return kvmbed::BadInput(st);
  }
  // Without /dev/kvm, a command that needs it runs in the nested L1.
  if (int code = kvmbed::MaybeRunNested(argc, argv, *args); code >= 0) return code;
  return kvmbed::FinishStdout(Dispatch(*args));
}
