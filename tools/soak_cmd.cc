// `kvmbed soak PROFILE [--duration 20h]`: every VM of the profile with its
// guest workload, plus the host stress (real stress-ng), for as long as asked,
// with a live status line, a lossless JSON-lines event log, an orderly stop on
// SIGINT/SIGTERM, a JUnit XML result and exit codes for `git bisect run`:
//   0  clean: the run ended (or was stopped) and nothing was found
//   1  a lost IPI, an unresolved stall, a soft lockup, a guest workload error,
//      a guest/VMM error or a failed host stress
//   2  bad input or setup error, or the event log could not be written (the
//      run stops in order, keeps what it measured and says so)
//
// Flags (tools/flags.cc): --duration (0 = the profile's), --fold-cpus,
// --scale F (stress counts and sizes, see configs/README.md), --events FILE
// (default soak-NAME-YYYYmmdd-HHMMSS.jsonl; stress-ng's YAML and log go to
// FILE.stress-ng.yaml / .log), --junit FILE, --kernel-model M (turns the
// hostipi host plane on with model M), --host-stress=false, --csd-timeout /
// --soft-lockup (both planes' thresholds; else profile, else calibrated),
// --status-interval (status line and events; plain lines on a non-TTY come
// every max(interval, 10 s)), --drop-ipi-fraction F with --fault-vcpu N
// (guest-plane fault injection, for tests).
//
// `kvmbed bench soak-overhead PROFILE` (IPIs/s with the watchdogs on / off
// in --runs pairs, default 12, ordered on-off, off-on, ...; each round drops
// --warmup after boot, default 1 s, and measures --duration, default 3 s;
// pairs where kvmbed got less than --min-cpu-share (0.9) of its host CPUs
// are rerun, up to 3x; host stress off unless --host-stress=true; per-pair ratios, their median, IQR, order-statistic
// and bootstrap 95% CIs and a verdict on the 0.99 target, per wall-clock
// second, per CPU-second of kvmbed and from the VMM threads' CPU share) and
// `kvmbed bench soak-rss PROFILE` (RSS sampled every --rss-every over
// --duration, default 10 min, split into resident guest RAM and the VMM's
// own) take the same profile flags (SoakBenchCommand).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/event_log.h"
#include "base/input.h"
#include "base/status_macros.h"
#include "base/junit.h"
#include "base/sample_stats.h"
#include "tools/common.h"
#include "base/cpuset.h"
#include "configs/profile.h"
#include "guest/abi.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/stop_signal.h"
#include "vmm/machine.h"
#include "runner/smp_run.h"
#include "yaml-cpp/yaml.h"

namespace kvmbed {
namespace {

// ---------------------------------------------------------------------------
// Profile loading with the soak flags.

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
    spec->hostipi.kernel_model = absl::GetFlag(FLAGS_kernel_model);
  }
  if (!absl::GetFlag(FLAGS_host_ordering).empty()) {
    spec->hostipi.ordering = absl::GetFlag(FLAGS_host_ordering);
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
    absl::Status host = hostplane::ValidateHostIpiSpec(spec->hostipi);
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

// ---------------------------------------------------------------------------
// Host stress: the real stress-ng, as a child process.

// Finds `name` on $PATH (execv needs a path; resolved before fork).
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    std::string p = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// One stress-ng child. Threading: owner thread only.
class HostStress {
 public:
  // The stress-ng command line for `h`, writing its YAML to `yaml_path`.
  static std::vector<std::string> CommandLine(const HostStressSpec& h, absl::Duration duration,
                                              const std::string& yaml_path) {
    std::vector<std::string> argv = {"stress-ng"};
    if (h.cpu > 0) argv.insert(argv.end(), {"--cpu", absl::StrCat(h.cpu)});
    if (h.io > 0) argv.insert(argv.end(), {"--io", absl::StrCat(h.io)});
    if (h.vm > 0) {
      argv.insert(argv.end(), {"--vm", absl::StrCat(h.vm), "--vm-bytes",
                                   absl::StrCat(h.vm_bytes >> 10, "K")});
    }
    if (!h.cpus.empty()) {
      argv.insert(argv.end(), {"--taskset", absl::StrJoin(h.cpus, ",")});
    }
    // A backstop only: kvmbed stops it with SIGINT at the end of the run.
    int64_t secs = duration == absl::InfiniteDuration()
                       ? int64_t{365} * 86400
                       : absl::ToInt64Seconds(duration) + 120;
    argv.insert(argv.end(), {"--metrics", "--yaml", yaml_path, "--timeout", absl::StrCat(secs, "s")});
    return argv;
  }

  ~HostStress() { Stop(); }

  // Starts stress-ng; its output goes to `log_path`.
  absl::Status Start(const std::vector<std::string>& argv, const std::string& log_path) {
    std::string exe = FindOnPath(argv[0]);
    if (exe.empty()) {
      return absl::NotFoundError(
          "host_stress: stress-ng is not on PATH; install it (tools/setup.sh installs the "
          "Debian package) or run with --host-stress=false");
    }
    std::vector<char*> cargv;
    for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) return absl::ErrnoToStatus(errno, absl::StrCat("host_stress: create ", log_path));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      close(out);
      return absl::ErrnoToStatus(errno, "host_stress: fork");
    }
    if (pid == 0) {
      // Async-signal-safe calls only. Die with kvmbed (even after kill -9).
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      dup2(out, 1);
      dup2(out, 2);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      // kvmbed ignores SIGXFSZ (stop_signal.h); exec keeps ignored signals.
      struct sigaction dfl = {};
      dfl.sa_handler = SIG_DFL;
      sigaction(SIGXFSZ, &dfl, nullptr);
      // Its own process group: a terminal's Ctrl-C goes to kvmbed, which
      // then stops stress-ng in order.
      setpgid(0, 0);
      execv(exe.c_str(), cargv.data());
      _exit(127);
    }
    close(out);
    pid_ = pid;
    started_ = absl::Now();
    return absl::OkStatus();
  }

  // True while it runs; records its exit status when it ended.
  bool Running() {
    if (pid_ <= 0) return false;
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      status_ = st;
      ended_early_ = true;
      return false;
    }
    return true;
  }

  // SIGINT (stress-ng then writes its metrics), SIGKILL after 20 s.
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGINT);
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    int st = 0;
    while (true) {
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) break;
      if (absl::Now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &st, 0);
        killed_ = true;
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    status_ = st;
    pid_ = -1;
  }

  bool started() const { return started_ != absl::InfinitePast(); }
  // stress-ng exited 0 when asked to stop, and not before.
  bool ok() const {
    return started() && !ended_early_ && !killed_ && WIFEXITED(status_) &&
           WEXITSTATUS(status_) == 0;
  }
  std::string Describe() const {
    if (!started()) return "not run";
    std::string s = WIFEXITED(status_)     ? absl::StrCat("exit status ", WEXITSTATUS(status_))
                    : WIFSIGNALED(status_) ? absl::StrCat("killed by signal ", WTERMSIG(status_))
                                           : "unknown status";
    if (ended_early_) absl::StrAppend(&s, ", ended before the run did");
    if (killed_) absl::StrAppend(&s, ", did not stop on SIGINT within 20 s (killed)");
    return s;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool ended_early_ = false;
  bool killed_ = false;
  absl::Time started_ = absl::InfinitePast();
};

// stress-ng's --yaml metrics as JSON: [{stressor, bogo_ops, ...}].
absl::StatusOr<nlohmann::json> ReadStressNgMetrics(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": stress-ng YAML unreadable: ", e.what()));
  }
  nlohmann::json out = nlohmann::json::array();
  const YAML::Node metrics = root["metrics"];
  if (!metrics || !metrics.IsSequence()) {
    return absl::DataLossError(absl::StrCat(path, ": no 'metrics' list in stress-ng's YAML"));
  }
  for (const YAML::Node& m : metrics) {
    if (!m.IsMap()) continue;
    nlohmann::json j = nlohmann::json::object();
    for (auto it = m.begin(); it != m.end(); ++it) {
      std::string key = it->first.Scalar();
      std::replace(key.begin(), key.end(), '-', '_');
      const std::string& v = it->second.Scalar();
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (!v.empty() && end != nullptr && *end == '\0') {
        j[key] = d;
      } else {
        j[key] = v;
      }
    }
    out.push_back(std::move(j));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Output: reports and stat lines from the runners, and the status line.

// Owns stdout. On a TTY the status line sits at the bottom and is redrawn in
// place (\r); every other block first clears it. Otherwise status lines are
// plain lines. Threading: all methods thread-safe.
class Console {
 public:
  Console() : tty_(isatty(STDOUT_FILENO) == 1) {}
  bool tty() const { return tty_; }

  void Block(const std::string& text) {
    absl::MutexLock lock(&mu_);
    if (tty_ && !status_.empty()) std::fputs("\r\033[K", stdout);
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (tty_ && !status_.empty()) std::fputs(status_.c_str(), stdout);
    std::fflush(stdout);
  }
  void Status(const std::string& line, bool print_plain) {
    absl::MutexLock lock(&mu_);
    if (tty_) {
      status_ = line;
      std::fputs("\r\033[K", stdout);
      std::fputs(line.c_str(), stdout);
    } else if (print_plain) {
      std::fputs(line.c_str(), stdout);
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);
  }
  // Ends the in-place line (before the summary).
  void EndStatus() {
    absl::MutexLock lock(&mu_);
    if (tty_ && !status_.empty()) std::fputc('\n', stdout);
    status_.clear();
    std::fflush(stdout);
  }

 private:
  const bool tty_;
  absl::Mutex mu_;
  std::string status_ ABSL_GUARDED_BY(mu_);
};

std::string FormatElapsed(absl::Duration d) {
  int64_t s = absl::ToInt64Seconds(d);
  return absl::StrFormat("%02d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
}

std::string FormatRate(double r) {
  if (r >= 1e6) return absl::StrFormat("%.2fM", r / 1e6);
  if (r >= 1e4) return absl::StrFormat("%.1fk", r / 1e3);
  return absl::StrFormat("%.0f", r);
}

// Sums of every VM's live counters.
struct Totals {
  uint64_t ipis = 0;
  // Measured guest csd waits (the samples of its ipi_latency histogram: one
  // per smp_call_function*(wait=1) call with a remote target) plus the host
  // plane's finished csd_lock_waits.
  uint64_t csd_waits = 0;
  // Longest completed csd wait so far, both planes: the guest's call latency
  // and csd_lock_wait maxima, the host plane's csd_lock_wait and round-trip
  // maxima.
  uint64_t max_wait_ns = 0;
  int lost = 0;
  int other = 0;  // slow or pending
  int lockups = 0;
  int online = 0;
  // Per VM (runner creation order): guest-plane IPIs sent plus host-plane
  // doorbells, as of that VM's last watch poll.
  std::vector<uint64_t> vm_ipis;
};

Totals Sum(const std::vector<runner::SmpRunner*>& runners) {
  Totals t;
  for (runner::SmpRunner* r : runners) {
    runner::SmpLive l = r->Live();
    t.ipis += l.stats.count[abi::kCntIpisSent];
    t.vm_ipis.push_back(l.stats.count[abi::kCntIpisSent] +
                        static_cast<uint64_t>(l.host.doorbells_sent));
    t.csd_waits += static_cast<uint64_t>(l.stats.latency.count);
    t.max_wait_ns = std::max(t.max_wait_ns, l.stats.max_csd_wait_ns);
    t.max_wait_ns = std::max(t.max_wait_ns, static_cast<uint64_t>(l.stats.latency.max_ns));
    t.max_wait_ns = std::max(t.max_wait_ns, static_cast<uint64_t>(l.host_latency.max_ns));
    t.lost += l.stalls_lost;
    t.other += l.stalls_other;
    // Both planes (docs/events.md status): host doorbells, host csd waits.
    t.ipis += static_cast<uint64_t>(l.host.doorbells_sent);
    t.csd_waits += static_cast<uint64_t>(l.host.calls_completed);
    t.max_wait_ns = std::max<uint64_t>(t.max_wait_ns, static_cast<uint64_t>(l.host.max_wait_ns));
    t.lost += static_cast<int>(l.host.stalls_lost);
    t.other += static_cast<int>(l.host.stalls_slow);
    t.lockups += l.soft_lockups;
    t.online += l.online ? 1 : 0;
  }
  return t;
}

// The longest csd wait of either plane since the previous call, over every
// VM (each runner closes its periods: SmpRunner::EndWaitPeriod and
// EndHostWaitPeriod). Exact.
uint64_t PeriodMaxNs(const std::vector<runner::SmpRunner*>& runners) {
  uint64_t m = 0;
  for (runner::SmpRunner* r : runners) {
    m = std::max({m, r->EndWaitPeriod(), r->EndHostWaitPeriod()});
  }
  return m;
}

// The stop callbacks of stop_signal.h take (fn, arg).
void StopRunner(void* arg) { static_cast<runner::SmpRunner*>(arg)->RequestStop(); }

// ---------------------------------------------------------------------------
// One soak, shared by the command and the benchmarks.

struct SoakOptions {
  std::string events_path;  // required
  std::string junit_path;   // empty = none
  bool host_stress = true;
  bool watchdogs = true;
  bool quiet = false;  // benchmarks: no per-VM output, no status lines
  // Stop in order at the first LOST stall (either plane): bisection and
  // reproduction runs need the first hit, not the rest of the duration.
  bool stop_on_lost = false;
  absl::Duration status_interval = absl::Seconds(1);
  // Called once per status period on the main thread (benchmarks sample RSS).
  std::function<void(absl::Duration elapsed, const Totals&)> on_status;
  // Benchmarks: called on the main thread about every `sample_every` while
  // the run lasts, with the totals as of each VM's last watch poll; returning
  // true ends the run in order (as a stop signal would, but exit code 0).
  std::function<bool(absl::Time now, const Totals&)> on_sample;
  absl::Duration sample_every = absl::Milliseconds(10);
};

struct SoakOutcome {
  int exit_code = kExitBadInput;
  std::vector<runner::SmpRunResult> results;
  absl::Duration ran_for;
  uint64_t ipis = 0;
};

std::string DescribeScale(const RunSpec& spec) {
  if (spec.scale == 1) return "scale 1 (as written)";
  return absl::StrFormat(
      "scale %g: guest and host stress worker counts and vm_bytes multiplied by %g (counts "
      "rounded, at least 1); vCPUs, pinning and VM memory as written",
      spec.scale, spec.scale);
}

// The first line of a sysfs file, or "" when unreadable.
std::string ReadSysfs(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

SoakOutcome RunSoak(const RunSpec& spec, const SoakOptions& so) {
  SoakOutcome outcome;
  Console console;
  auto say = [&](const std::string& text) {
    if (!so.quiet) console.Block(text);
  };
  // Before the log exists: SIGXFSZ ignored, so a file size limit turns into
  // EFBIG from write() (the log's error path), not a killed process.
  InstallStopSignalHandler();
  absl::StatusOr<std::unique_ptr<EventLog>> log = EventLog::Open(so.events_path);
  if (!log.ok()) {
    BadInput(absl::StrCat("--events: ", log.status().message()));
    return outcome;
  }
  EventLog& events = **log;

  // MADV_MERGEABLE only matters when ksmd runs; THP madvise only when the
  // host's THP mode is madvise or always. Say so rather than pretend.
  const std::string ksm_run = ReadSysfs("/sys/kernel/mm/ksm/run");
  const std::string thp_mode = ReadSysfs("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mem_note;
  if (spec.ksm && ksm_run != "1") {
    absl::StrAppend(&mem_note, " (host ksmd is off: /sys/kernel/mm/ksm/run = '", ksm_run,
                    "'; pages are marked mergeable but nothing merges until it is 1)");
  }
  if (spec.thp && thp_mode.find("[never]") != std::string::npos) {
    absl::StrAppend(&mem_note, " (host THP is [never]: MADV_HUGEPAGE has no effect)");
  }
  say(absl::StrCat(KvmHostLine(), FormatRunSpec(spec), "  ", DescribeScale(spec), "\n",
                   "  guest memory: THP ", spec.thp ? "on" : "off", ", KSM ",
                   spec.ksm ? "on" : "off", mem_note, "\n", "  host plane (hostipi): ",
                   spec.hostipi.enabled
                       ? absl::StrCat("kernel model ", spec.hostipi.kernel_model, ", ",
                                      spec.hostipi.ordering, " ordering",
                                      spec.hostipi.ordering == "emulated-power"
                                          ? absl::StrCat(" (store hold up to ",
                                                         absl::FormatDuration(
                                                             spec.hostipi.store_hold),
                                                         ")")
                                          : "",
                                      ", ",
                                      spec.hostipi.ksmd_threads, " ksmd thread(s) per VM")
                       : std::string("off"),
                   "\n", "  events: ", so.events_path, "\n"));
  nlohmann::json start = {{"profile", spec.source},
                          {"name", spec.name},
                          {"duration_s", absl::ToDoubleSeconds(spec.duration)},
                          {"vms", spec.vms.size()},
                          {"host_cpus", spec.host_cpus},
                          {"cpus_folded", spec.cpus_folded},
                          {"scale", spec.scale},
                          {"thp", spec.thp},
                          {"ksm", spec.ksm},
                          {"watchdogs", so.watchdogs},
                          {"host_ksm_run", ksm_run},
                          {"host_thp", thp_mode},
                          {"kernel_model", spec.hostipi.enabled ? spec.hostipi.kernel_model : ""},
                          {"mode", spec.hostipi.enabled ? spec.hostipi.ordering : ""},
                          {"store_hold_ns", spec.hostipi.enabled && spec.hostipi.ordering == "emulated-power" ? absl::ToInt64Nanoseconds(spec.hostipi.store_hold) : 0},
                          {"command", "soak"}};
  AddKvmHostFields(&start);
  events.Emit("run_start", start);

  // Host stress first, so the VMs boot into a loaded host as in the seed.
  HostStress stress;
  const bool want_stress = spec.host_stress.enabled && so.host_stress;
  const std::string stress_yaml = so.events_path + ".stress-ng.yaml";
  const std::string stress_log = so.events_path + ".stress-ng.log";
  if (want_stress) {
    std::vector<std::string> argv =
        HostStress::CommandLine(spec.host_stress, spec.duration, stress_yaml);
    say(absl::StrCat("host stress: ", absl::StrJoin(argv, " "), "\n"));
    events.Emit("host_stress_start", {{"argv", argv}, {"log", stress_log}});
    absl::Status s = stress.Start(argv, stress_log);
    if (!s.ok()) {
      events.Emit("run_end", {{"exit_code", kExitBadInput}, {"signal", 0},
                              {"verdict", "setup error"}, {"error", std::string(s.message())}});
      BadInput(s);
      return outcome;
    }
  }

  // The VMs: RunGuestWorkloads creates (and calibrates) every runner, then
  // runs them; this thread watches and prints the status meanwhile.
  absl::Mutex mu;
  std::vector<runner::SmpRunner*> runners;  // guarded by mu
  std::atomic<bool> finished{false};
  std::atomic<bool> stopping{false};  // a runner created from now on stops at once
  absl::StatusOr<std::vector<runner::SmpRunResult>> results = absl::UnknownError("not run");
  runner::SmpRunOptions base;
  base.watchdogs = so.watchdogs;
  std::thread vm_thread([&]() {
    results = runner::RunGuestWorkloads(
        spec, [&](const std::string& t) { say(t); }, &events,
        [&](runner::SmpRunner& r) {
          absl::MutexLock lock(&mu);
          runners.push_back(&r);
          OnStopSignal(StopRunner, &r);
          if (stopping.load()) r.RequestStop();
        },
        base,
        [&]() {
          // Before the runners die: no more status reads or stop calls.
          absl::MutexLock lock(&mu);
          ClearStopCallbacks();
          runners.clear();
        });
    finished.store(true);
  });

  auto stop_all = [&]() {
    absl::MutexLock lock(&mu);
    stopping.store(true);
    for (runner::SmpRunner* r : runners) r->RequestStop();
  };

  const absl::Time t0 = absl::Now();
  absl::Time run_t0 = absl::InfiniteFuture();  // every VM online
  absl::Time last = t0;
  uint64_t last_ipis = 0;
  // The run's longest wait as status reports it: never below a period's
  // (the per-period maximum reads guest memory directly, Live() only at the
  // runner's polls, which pause e.g. while the host plane calibrates).
  uint64_t run_max = 0;
  bool log_failed = false;
  bool stress_said = false;  // "stress-ng ended early" printed
  absl::Time next_plain = t0;
  Totals tot;
  bool sample_stop = false;  // on_sample asked to end the run
  const absl::Duration tick = std::min(
      {absl::Milliseconds(100), so.status_interval,
       so.on_sample ? so.sample_every : absl::InfiniteDuration()});
  while (!finished.load()) {
    absl::SleepFor(tick);
    absl::Time now = absl::Now();
    if (finished.load()) break;
    if (so.on_sample && !sample_stop) {
      Totals st;
      {
        absl::MutexLock lock(&mu);
        st = Sum(runners);
      }
      if (so.on_sample(now, st)) {
        sample_stop = true;
        stop_all();
      }
    }
    if (!log_failed && !events.status().ok()) {
      log_failed = true;
      say(absl::StrCat("\nkvmbed: the event log failed (", events.status().message(),
                       "); stopping the run in order, keeping what was measured\n"));
      stop_all();
    }
    if (want_stress && !stress.Running() && StopSignalReceived() == 0) {
      // stress-ng ended by itself: that is a host stress failure; go on.
      if (!stress_said) {
        stress_said = true;
        say(absl::StrCat("kvmbed: host stress-ng ended early (", stress.Describe(), "), see ",
                         stress_log, "\n"));
        events.Emit("host_stress_ended", {{"status", stress.Describe()}});
      }
    }
    if (now - last < so.status_interval) continue;
    size_t nrunners = 0;
    uint64_t period_max = 0;
    {
      // Held while reading: on_finished clears `runners` before they die.
      absl::MutexLock lock(&mu);
      nrunners = runners.size();
      if (nrunners > 0) {
        tot = Sum(runners);
        period_max = PeriodMaxNs(runners);
      }
    }
    if (nrunners == spec.vms.size() && tot.online == static_cast<int>(nrunners) &&
        run_t0 == absl::InfiniteFuture()) {
      run_t0 = now;
    }
    const double period = absl::ToDoubleSeconds(now - last);
    const double rate = period > 0 ? static_cast<double>(tot.ipis - last_ipis) / period : 0;
    // docs/events.md status.max_wait_ns: the longest wait of this period,
    // both planes (PeriodMaxNs).
    run_max = std::max({run_max, tot.max_wait_ns, period_max});
    const absl::Duration elapsed = now - t0;
    if (so.watchdogs) {
      events.Emit("status", {{"elapsed_s", absl::ToDoubleSeconds(elapsed)},
                             {"ipis", tot.ipis},
                             {"ipis_per_s", rate},
                             {"csd_waits", tot.csd_waits},
                             {"max_wait_ns", period_max},
                             {"max_wait_run_ns", run_max},
                             {"stalls_lost", tot.lost},
                             {"stalls_slow", tot.other},
                             {"soft_lockups", tot.lockups},
                             {"vms_online", tot.online}});
    }
    std::string line = absl::StrFormat(
        "[%s] %s IPIs/s %s | csd waits %d | max wait %.3f ms (run %.3f ms) | stalls %d lost, "
        "%d slow | lockups %d%s",
        FormatElapsed(elapsed), run_t0 == absl::InfiniteFuture() ? "booting" : "running",
        FormatRate(rate), tot.csd_waits, static_cast<double>(period_max) / 1e6,
        static_cast<double>(run_max) / 1e6, tot.lost,
        tot.other, tot.lockups, StopSignalReceived() != 0 ? " | stopping" : "");
    bool plain = now >= next_plain;
    if (plain) next_plain = now + std::max(so.status_interval, absl::Seconds(10));
    if (!so.quiet) console.Status(line, plain);
    if (so.on_status) so.on_status(elapsed, tot);
    if (so.stop_on_lost && tot.lost > 0 && !stopping.load()) {
      say(absl::StrFormat("\nkvmbed: LOST stall found after %s: stopping the run in order "
                          "(--stop-on-lost)\n",
                          absl::FormatDuration(absl::Trunc(elapsed, absl::Milliseconds(100)))));
      events.Emit("stop_requested", {{"reason", "stop_on_lost"}, {"stalls_lost", tot.lost}});
      stop_all();
    }
    last = now;
    last_ipis = tot.ipis;
  }
  vm_thread.join();
  ClearStopCallbacks();
  if (!so.quiet) console.EndStatus();
  outcome.ran_for = absl::Now() - (run_t0 == absl::InfiniteFuture() ? t0 : run_t0);

  // Host stress: stop it, collect its own metrics.
  nlohmann::json stress_metrics = nlohmann::json::array();
  std::string stress_problem;
  if (want_stress) {
    stress.Stop();
    absl::StatusOr<nlohmann::json> m = ReadStressNgMetrics(stress_yaml);
    if (m.ok()) {
      stress_metrics = *m;
    } else {
      stress_problem = std::string(m.status().message());
    }
    if (!stress.ok() && stress_problem.empty()) {
      stress_problem = absl::StrCat("stress-ng: ", stress.Describe(), " (log ", stress_log, ")");
    } else if (!stress.ok()) {
      stress_problem = absl::StrCat(stress_problem, "; stress-ng: ", stress.Describe());
    }
    events.Emit("host_stress", {{"ok", stress_problem.empty()},
                                {"status", stress.Describe()},
                                {"error", stress_problem},
                                {"yaml", stress_yaml},
                                {"metrics", stress_metrics}});
  }

  const int sig = StopSignalReceived();
  if (!results.ok()) {
    std::string msg(results.status().message());
    events.Emit("run_end", {{"exit_code", kExitBadInput}, {"signal", sig},
                            {"verdict", "setup error"}, {"error", msg}});
    BadInput(msg);
    return outcome;
  }
  outcome.results = *results;

  // Summary per VM and per vCPU.
  bool failed = false;
  std::string summary;
  JUnitReport junit("kvmbed");
  JUnitSuite& suite = junit.AddSuite(absl::StrCat("kvmbed.soak.", spec.name));
  suite.timestamp = t0;
  suite.time = absl::Now() - t0;
  suite.properties = {{"profile", spec.source},
                      {"duration", absl::FormatDuration(spec.duration)},
                      {"scale", absl::StrCat(spec.scale)},
                      {"cpus_folded", spec.cpus_folded ? "true" : "false"},
                      {"events", so.events_path}};
  const std::string cls = absl::StrCat("kvmbed.soak.", spec.name);
  auto add_case = [&](const std::string& name, absl::Duration time) -> JUnitCase& {
    suite.cases.push_back(JUnitCase{});
    JUnitCase& c = suite.cases.back();
    c.name = name;
    c.classname = cls;
    c.time = time;
    return c;
  };
  for (const runner::SmpRunResult& r : outcome.results) {
    const vmm::VmSummary& vm = r.vm;
    events.Emit("vm_summary", runner::VmSummaryEventFields(vm));
    outcome.ipis += r.stats.count[abi::kCntIpisSent];
    const auto& c = r.stats.count;
    absl::StrAppendFormat(
        &summary,
        "\n== VM %s: %s ==\n"
        "  ran %s; IPIs sent %d (%.0f/s), csd waits %d, longest completed wait %.3f ms\n"
        "  csd stalls %d (lost %d, slow %d, unresolved %d), soft lockups %d, guest errors %d\n"
        "  stress: cpu %d loops, io %d syncs (%d bytes), vm %d pages (%d corrupt)\n",
        vm.name, r.success ? "clean" : absl::StrCat("FAILED: ", r.failure_reason),
        absl::FormatDuration(absl::Trunc(vm.run_time, absl::Milliseconds(1))),
        c[abi::kCntIpisSent],
        vm.run_time > absl::ZeroDuration()
            ? static_cast<double>(c[abi::kCntIpisSent]) / absl::ToDoubleSeconds(vm.run_time)
            : 0.0,
        r.stats.latency.count, static_cast<double>(r.stats.max_csd_wait_ns) / 1e6, r.stalls.size(), r.lost_stalls,
        r.slow_stalls, r.unresolved_stalls, r.soft_lockups.size(), r.guest_errors.size(),
        c[abi::kCntCpuOps], c[abi::kCntIoOps], r.io_bytes_synced, c[abi::kCntVmPages],
        c[abi::kCntVmErrors]);
    absl::StrAppend(&summary, vmm::FormatSummary(vm));
    if (!r.success) failed = true;

    JUnitCase& boot = add_case(absl::StrCat("vm ", vm.name), vm.run_time);
    boot.system_out = vmm::FormatSummary(vm);
    if (!vm.error.ok() || !vm.all_online) {
      boot.result = JUnitCase::Result::kFailed;
      boot.type = "vm_error";
      boot.message = vm.error.ok() ? "not every vCPU came online" : std::string(vm.error.message());
      boot.details = boot.message;
    }
    JUnitCase& lost = add_case(absl::StrCat(vm.name, ": no lost IPI"), vm.run_time);
    if (r.host_plane && r.host.lost > 0) {
      // The seed's plane: a lost host IPI (hostipi kernel model).
      lost.result = JUnitCase::Result::kFailed;
      lost.type = "lost_host_ipi";
      lost.message = absl::StrFormat("%d lost host-plane IPI(s) with kernel model %s",
                                     r.host.lost, r.host.kernel_model);
      lost.details = r.host.first_lost_report;
    } else if (r.lost_stalls > 0 || r.unresolved_stalls > 0) {
      lost.result = JUnitCase::Result::kFailed;
      lost.type = "lost_ipi";
      lost.message = absl::StrFormat("%d lost csd stall(s), %d unresolved", r.lost_stalls,
                                     r.unresolved_stalls);
      for (const runner::CsdStall& s : r.stalls) {
        if (s.verdict == hostipi::StallVerdict::kLost || !s.unstuck) {
          lost.details = s.first_report;
          break;
        }
      }
    }
    JUnitCase& lock = add_case(absl::StrCat(vm.name, ": no soft lockup"), vm.run_time);
    if (!r.soft_lockups.empty()) {
      lock.result = JUnitCase::Result::kFailed;
      lock.type = "soft_lockup";
      lock.message = absl::StrCat(r.soft_lockups.size(), " soft lockup report(s)");
      lock.details = r.soft_lockups.front().report;
    }
    JUnitCase& werr = add_case(absl::StrCat(vm.name, ": guest workload errors"), vm.run_time);
    const bool scf_err = c[abi::kCntErrWrongCpu] || c[abi::kCntErrMbIn] || c[abi::kCntErrMbOut];
    if (!r.guest_errors.empty() || scf_err || c[abi::kCntVmErrors] > 0) {
      werr.result = JUnitCase::Result::kFailed;
      werr.type = "guest_workload";
      werr.message = absl::StrFormat("%d guest error report(s), %d corrupt words",
                                     r.guest_errors.size(), c[abi::kCntVmErrors]);
      werr.details = absl::StrJoin(r.guest_errors, "\n");
    }
  }
  JUnitCase& hs = add_case("host stress ok", outcome.ran_for);
  if (!want_stress) {
    hs.result = JUnitCase::Result::kSkipped;
    hs.message = spec.host_stress.enabled ? "--host-stress=false" : "no host_stress: section";
  } else {
    hs.system_out = stress_metrics.dump(2);
    if (!stress_problem.empty()) {
      failed = true;
      hs.result = JUnitCase::Result::kFailed;
      hs.type = "host_stress";
      hs.message = stress_problem;
    }
  }
  absl::StrAppend(&summary, "\n== host stress: ",
                  !want_stress ? "not run"
                  : stress_problem.empty()
                      ? "ok"
                      : absl::StrCat("FAILED: ", stress_problem),
                  " ==\n");
  for (const auto& m : stress_metrics) {
    absl::StrAppendFormat(&summary, "  %-6s bogo-ops %12.0f  (%.1f/s real time)\n",
                          m.value("stressor", std::string("?")), m.value("bogo_ops", 0.0),
                          m.value("bogo_ops_per_second_real_time", 0.0));
  }

  JUnitCase& logc = add_case("event log complete", outcome.ran_for);
  if (log_failed || !events.status().ok()) {
    logc.result = JUnitCase::Result::kError;
    logc.type = "event_log";
    logc.message = std::string(events.status().message());
  }

  int code = failed ? kExitFound : kExitClean;
  if (log_failed || !events.status().ok()) code = kExitBadInput;
  std::string verdict = code == kExitBadInput ? "event log failed"
                        : failed              ? "FAILURE"
                                              : "SUCCESS";
  for (const runner::SmpRunResult& r : outcome.results) {
    if (r.lost_stalls > 0) verdict = "lost IPI";
    if (r.host_plane && r.host.lost > 0) verdict = "lost host IPI";
  }
  events.Emit("run_end", {{"exit_code", code}, {"signal", sig}, {"verdict", verdict}});

  if (!so.quiet) {
    std::fputs(summary.c_str(), stdout);
    if (sig != 0) {
      std::printf("\nstopped by signal %d after %s; the summary covers the run so far\n", sig,
                  absl::FormatDuration(absl::Trunc(absl::Now() - t0, absl::Seconds(1))).c_str());
    }
  }
  if (!events.status().ok()) {
    // The message names the file, the errno and the events kept.
    std::fprintf(stderr,
                 "kvmbed: event log failed: %s; the run was stopped in order, the log holds the "
                 "events up to the failure (every line complete) and the summary above covers "
                 "the whole run\n",
                 std::string(events.status().message()).c_str());
  }
  if (!so.junit_path.empty()) {
    absl::Status js = junit.WriteFile(so.junit_path);
    if (!js.ok()) {
      std::fprintf(stderr, "kvmbed: --junit: %s\n", std::string(js.message()).c_str());
      if (code == kExitClean) code = kExitBadInput;
    }
  }
  if (!so.quiet) {
    std::printf("soak: %s (exit %d)\n", verdict.c_str(), code);
    std::fflush(stdout);
  }
  outcome.exit_code = code;
  return outcome;
}

// Process CPU time (every thread: vCPUs in and out of the guest, watchers).
int64_t ProcessCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// CPU time of this process's threads from /proc/self/task/*/schedstat (ns),
// split into vCPU threads (named "vcpu-N", vmm/vcpu_thread.cc; guest time
// included) and the rest: the VMM's own threads, where the watchdogs run.
struct ThreadCpu {
  int64_t vcpu_ns = 0;
  int64_t vmm_ns = 0;
};
ThreadCpu ReadThreadCpu() {
  ThreadCpu out;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string dir = absl::StrCat("/proc/self/task/", e->d_name);
    std::ifstream ss(dir + "/schedstat");
    long long ns = 0;
    if (!(ss >> ns)) continue;  // the thread just ended
    std::ifstream cs(dir + "/comm");
    std::string comm;
    std::getline(cs, comm);
    (comm.rfind("vcpu-", 0) == 0 ? out.vcpu_ns : out.vmm_ns) += ns;
  }
  closedir(d);
  return out;
}

// One round of `bench soak-overhead`: IPIs counted by the guests (and host
// doorbells) over a window that starts `warmup` after every VM is online
// and lasts `window`; each VM's window starts and ends at one of its own
// watch polls (when its counters refresh), so the count and the interval
// belong together. Process CPU time is read at the window's start and end.
// Threading: one thread (the soak's main thread, through on_sample).
class OverheadRound {
 public:
  OverheadRound(size_t vms, absl::Duration warmup, absl::Duration window)
      : vms_(vms), warmup_(warmup), window_(window), start_(vms), end_(vms) {}

  // SoakOptions::on_sample; true once every VM's window has ended.
  bool Sample(absl::Time now, const Totals& t) {
    if (t.vm_ipis.size() < vms_ || t.online < static_cast<int>(vms_)) return false;
    if (online_ == absl::InfiniteFuture()) online_ = now;
    const bool have_prev = prev_.size() == vms_;
    auto take = [&](std::vector<Point>& pts, absl::Time since) {
      for (size_t i = 0; i < vms_; ++i) {
        if (pts[i].set) continue;
        // A fresh poll of VM i (its count moved), or no news for 200 ms.
        if ((have_prev && t.vm_ipis[i] != prev_[i]) || now - since > absl::Milliseconds(200)) {
          pts[i] = {true, now, t.vm_ipis[i]};
        }
      }
    };
    const absl::Time w0 = online_ + warmup_;
    const absl::Time w1 = w0 + window_;
    if (now >= w0) {
      if (cpu0_ < 0) {
        cpu0_ = ProcessCpuNs();
        threads0_ = ReadThreadCpu();
        wall0_ = now;
      }
      take(start_, w0);
    }
    if (now >= w1) {
      if (cpu1_ < 0) {
        cpu1_ = ProcessCpuNs();
        threads1_ = ReadThreadCpu();
        wall1_ = now;
      }
      take(end_, w1);
    }
    prev_ = t.vm_ipis;
    return Done();
  }

  bool Done() const {
    for (size_t i = 0; i < vms_; ++i) {
      if (!start_[i].set || !end_[i].set) return false;
    }
    return cpu1_ >= 0;
  }
  // IPIs per second of wall time, summed over the VMs.
  double WallRate() const {
    double r = 0;
    for (size_t i = 0; i < vms_; ++i) {
      const double s = absl::ToDoubleSeconds(end_[i].t - start_[i].t);
      if (s > 0) r += static_cast<double>(end_[i].ipis - start_[i].ipis) / s;
    }
    return r;
  }
  // Host CPUs kvmbed used on average over the window.
  double Cores() const {
    const double s = absl::ToDoubleSeconds(wall1_ - wall0_);
    return s > 0 ? static_cast<double>(cpu1_ - cpu0_) / 1e9 / s : 0;
  }
  // IPIs per CPU-second kvmbed consumed: what the watchdogs' own CPU costs
  // shows up in, and what other tenants of the host taking CPU does not.
  double CpuRate() const { return Cores() > 0 ? WallRate() / Cores() : 0; }
  // The share of kvmbed's CPU time its own (non-vCPU) threads took.
  double VmmShare() const {
    const int64_t vmm = threads1_.vmm_ns - threads0_.vmm_ns;
    const int64_t all = vmm + threads1_.vcpu_ns - threads0_.vcpu_ns;
    return all > 0 ? static_cast<double>(vmm) / static_cast<double>(all) : 0;
  }

 private:
  struct Point {
    bool set = false;
    absl::Time t;
    uint64_t ipis = 0;
  };
  const size_t vms_;
  const absl::Duration warmup_, window_;
  absl::Time online_ = absl::InfiniteFuture();
  std::vector<Point> start_, end_;
  std::vector<uint64_t> prev_;
  int64_t cpu0_ = -1, cpu1_ = -1;
  ThreadCpu threads0_, threads1_;
  absl::Time wall0_, wall1_;
};

// One on/off pair of `bench soak-overhead`: [0] watchdogs off, [1] on.
struct OverheadPair {
  int number = 0;
  bool on_first = true;
  double wall[2] = {0, 0};   // IPIs per wall-clock second
  double cpu[2] = {0, 0};    // IPIs per CPU-second of kvmbed
  double cores[2] = {0, 0};  // host CPUs kvmbed used
  double vmm[2] = {0, 0};    // share of kvmbed's CPU in non-vCPU threads
  bool clean = false;        // both rounds had the host CPUs to themselves
};

constexpr double kOverheadTarget = 0.99;

// The verdict on the 0.99 target from the order-statistic CI of the median
// (exact coverage for any n; the bootstrap CI is printed beside it).
std::string OverheadVerdict(const SampleSummary& r) {
  const Interval& ci = r.exact95.ci;
  if (!r.exact95.ok) {
    return absl::StrFormat(
        "NO VERDICT: %d pairs are too few for a 95%% CI of the median (even [min, max] covers "
        "only %.1f%%); 6 or more are needed, 12+ to resolve 1%%",
        r.n, 100 * r.exact95.coverage);
  }
  if (ci.low >= kOverheadTarget) {
    return absl::StrFormat("target >= %.2f MET with confidence (95%% CI low %.4f >= %.2f)",
                           kOverheadTarget, ci.low, kOverheadTarget);
  }
  if (ci.high < kOverheadTarget) {
    return absl::StrFormat(
        "target >= %.2f MISSED with confidence (95%% CI high %.4f < %.2f): the watchdogs cost "
        "more than 1%%",
        kOverheadTarget, ci.high, kOverheadTarget);
  }
  return absl::StrFormat(
      "CANNOT TELL: the 95%% CI [%.4f, %.4f] spans %.2f; the noise is too large for this many "
      "pairs (more --runs, a longer --duration, or a quieter host)",
      ci.low, ci.high, kOverheadTarget);
}

// Medians, IQRs, per-pair ratios, CIs and verdicts of `pairs`.
void PrintOverheadStats(const std::vector<OverheadPair>& pairs) {
  std::vector<double> on_wall, off_wall, on_cpu, off_cpu, r_wall, r_cpu, on_vmm, off_vmm, r_model;
  for (const OverheadPair& p : pairs) {
    on_wall.push_back(p.wall[1]);
    off_wall.push_back(p.wall[0]);
    on_cpu.push_back(p.cpu[1]);
    off_cpu.push_back(p.cpu[0]);
    r_wall.push_back(p.wall[0] > 0 ? p.wall[1] / p.wall[0] : 0);
    r_cpu.push_back(p.cpu[0] > 0 ? p.cpu[1] / p.cpu[0] : 0);
    on_vmm.push_back(p.vmm[1]);
    off_vmm.push_back(p.vmm[0]);
    // CPU-bound, the vCPUs get (1 - VMM share) of kvmbed's CPU: the ratio of
    // IPIs/s that the watchdogs' extra VMM CPU alone would cause.
    r_model.push_back(p.vmm[0] < 1 ? (1 - p.vmm[1]) / (1 - p.vmm[0]) : 0);
  }
  auto rates = [](const char* what, const std::vector<double>& v, double scale, const char* unit) {
    SampleSummary s = Summarize(v);
    std::printf("  %-14s median %10.*f%s  IQR [%.*f, %.*f] (%.1f%% of the median)  range [%.*f, %.*f]\n",
                what, scale == 1 ? 0 : 3, scale * s.median, unit, scale == 1 ? 0 : 3,
                scale * s.q1, scale == 1 ? 0 : 3, scale * s.q3,
                s.median > 0 ? 100 * s.Iqr() / s.median : 0.0, scale == 1 ? 0 : 3, scale * s.min,
                scale == 1 ? 0 : 3, scale * s.max);
  };
  auto ratios = [](const std::vector<double>& v) {
    SampleSummary s = Summarize(v);
    std::printf(
        "  per-pair ratio on/off: median %.4f  IQR [%.4f, %.4f]  range [%.4f, %.4f]\n"
        "  95%% CI of the median: order statistics [%.4f, %.4f] (coverage %.1f%%), "
        "bootstrap [%.4f, %.4f]\n  => %s\n",
        s.median, s.q1, s.q3, s.min, s.max, s.exact95.ci.low, s.exact95.ci.high,
        100 * s.exact95.coverage, s.ci95.low, s.ci95.high, OverheadVerdict(s).c_str());
  };
  std::printf("IPIs per wall-clock second:\n");
  rates("watchdogs on:", on_wall, 1, "");
  rates("watchdogs off:", off_wall, 1, "");
  ratios(r_wall);
  std::printf("IPIs per CPU-second of kvmbed (the watchdogs' own CPU counts against them):\n");
  rates("watchdogs on:", on_cpu, 1, "");
  rates("watchdogs off:", off_cpu, 1, "");
  ratios(r_cpu);
  std::printf(
      "CPU share of the VMM's own threads (not vCPUs: where the watchdogs run); ratio = "
      "(1 - on share) / (1 - off share),\n  what CPU-bound vCPUs would lose to it (a model, "
      "but with little noise):\n");
  rates("watchdogs on:", on_vmm, 100, "%");
  rates("watchdogs off:", off_vmm, 100, "%");
  ratios(r_model);
}

// `kvmbed bench soak-overhead`: watchdogs on vs off in pairs.
int SoakOverheadBench(const RunSpec& spec, SoakOptions so, const std::string& tmp) {
  const int want = FlagGiven("runs") ? absl::GetFlag(FLAGS_runs) : 12;
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration window = spec.duration;
  const double min_share = absl::GetFlag(FLAGS_min_cpu_share);
  if (want < 3) return BadInput("bench soak-overhead: --runs (pairs) must be at least 3");
  if (warmup < absl::ZeroDuration()) {
    return BadInput("bench soak-overhead: --warmup must not be negative; e.g. --warmup=1s");
  }
  if (!(min_share >= 0 && min_share <= 1)) {
    return BadInput("bench soak-overhead: --min-cpu-share must be 0..1; e.g. 0.9, or 0 to keep "
                    "every round");
  }
  const int max_pairs = min_share > 0 ? 3 * want : want;
  const double min_cores = min_share * static_cast<double>(spec.host_cpus.size());
  // The runners end on their own only well after the window.
  RunSpec run = spec;
  run.duration = warmup + window + absl::Seconds(30);
  std::printf(
      "soak-overhead %s: %d pairs of rounds, watchdogs on/off, order alternating on-off, "
      "off-on (ABBA, cancels drift);\n"
      "  each round boots the profile, drops %s after every VM is online, then counts the "
      "guests' IPIs (+ host doorbells) over %s\n"
      "  between two of each VM's own watch polls, and kvmbed's CPU time (per thread) over "
      "the same window.\n",
      spec.name.c_str(), want, absl::FormatDuration(warmup).c_str(),
      absl::FormatDuration(window).c_str());
  std::printf("  Host stress (stress-ng): %s.\n",
              so.host_stress && spec.host_stress.enabled
                  ? "on"
                  : "off (the default here: it adds noise, not watchdog work; "
                    "--host-stress=true runs it)");
  if (min_share > 0) {
    std::printf(
        "  A pair is clean when kvmbed used >= %.2f of its %d host CPUs in both rounds (else "
        "other tenants took CPU and the\n  rate follows them, not the watchdogs); pairs run "
        "until %d are clean, at most %d (--min-cpu-share=0 keeps all).\n",
        min_cores, static_cast<int>(spec.host_cpus.size()), want, max_pairs);
  }
  std::printf("%4s %-7s %10s %10s %7s  %11s %11s %7s  %-9s  %-15s  %s\n", "pair", "order",
              "on IPI/s", "off IPI/s", "ratio", "on IPI/CPUs", "off IPI/CPUs", "ratio",
              "cores", "VMM CPU share", "on/off");
  std::fflush(stdout);
  std::vector<OverheadPair> all, clean;
  int found = 0;
  for (int p = 0; p < max_pairs && static_cast<int>(clean.size()) < want; ++p) {
    OverheadPair pr;
    pr.number = p + 1;
    pr.on_first = p % 2 == 0;
    for (int k = 0; k < 2; ++k) {
      const bool wd = (k == 0) == pr.on_first;
      OverheadRound round(run.vms.size(), warmup, window);
      so.watchdogs = wd;
      so.on_sample = [&round](absl::Time now, const Totals& t) { return round.Sample(now, t); };
      so.events_path = absl::StrCat(tmp, "/kvmbed-soak-overhead-", getpid(), ".jsonl");
      SoakOutcome o = RunSoak(run, so);
      unlink(so.events_path.c_str());
      unlink((so.events_path + ".stress-ng.yaml").c_str());
      unlink((so.events_path + ".stress-ng.log").c_str());
      if (o.exit_code == kExitBadInput) return kExitBadInput;
      if (o.exit_code == kExitFound) ++found;
      if (StopSignalReceived() != 0) break;
      if (!round.Done()) {
        return BadInput(absl::StrCat(
            "bench soak-overhead: round ", 2 * p + k + 1,
            " ended before its window did (a VM stopped early or never came online)"));
      }
      pr.wall[wd] = round.WallRate();
      pr.cpu[wd] = round.CpuRate();
      pr.cores[wd] = round.Cores();
      pr.vmm[wd] = round.VmmShare();
    }
    if (StopSignalReceived() != 0) {
      std::printf("stopped by signal %d: the figures cover the %d complete pair(s)\n",
                  StopSignalReceived(), static_cast<int>(all.size()));
      break;
    }
    pr.clean = std::min(pr.cores[0], pr.cores[1]) >= min_cores;
    all.push_back(pr);
    if (pr.clean) clean.push_back(pr);
    std::printf(
        "%4d %-7s %10.0f %10.0f %7.4f  %11.0f %11.0f %7.4f  %4.2f/%4.2f  %6.3f%%/%6.3f%%  %s\n",
        pr.number, pr.on_first ? "on,off" : "off,on", pr.wall[1], pr.wall[0],
        pr.wall[0] > 0 ? pr.wall[1] / pr.wall[0] : 0, pr.cpu[1], pr.cpu[0],
        pr.cpu[0] > 0 ? pr.cpu[1] / pr.cpu[0] : 0, pr.cores[1], pr.cores[0], 100 * pr.vmm[1],
        100 * pr.vmm[0], min_share == 0 ? "" : pr.clean ? "clean" : "busy host");
    std::fflush(stdout);
  }
  if (min_share > 0) {
    std::printf("\n== %d clean pair(s) of %d run ==\n", static_cast<int>(clean.size()),
                static_cast<int>(all.size()));
    if (clean.size() < 6) {
      std::printf("  too few clean pairs for a verdict: the host is busy (other tenants took "
                  "CPU); see all pairs below\n");
    } else {
      PrintOverheadStats(clean);
    }
  }
  if (min_share == 0 || clean.size() < all.size()) {
    std::printf("\n== all %d pair(s)%s ==\n", static_cast<int>(all.size()),
                min_share > 0 ? ", busy-host ones included (noisier)" : "");
    if (!all.empty()) PrintOverheadStats(all);
  }
  if (found > 0) {
    std::printf("\nnote: %d round(s) found a failure (stall/lockup); their rates still count\n",
                found);
  }
  std::fflush(stdout);
  return kExitClean;
}

std::string DefaultEventsPath(const RunSpec& spec) {
  return absl::StrCat("soak-", spec.name, "-",
                      absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()),
                      ".jsonl");
}

// Resident set size of this process from /proc/self/status, in KiB.
int64_t RssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

// Resident KiB of guest RAM: mappings of 1 GiB or more (the VMs' RAM, mapped
// MAP_NORESERVE; nothing else here maps that much), from /proc/self/smaps.
int64_t GuestRamRssKib() {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool big = false;
  int64_t kib = 0;
  while (std::getline(in, line)) {
    size_t dash = line.find('-');
    size_t space = line.find(' ');
    if (dash != std::string::npos && space != std::string::npos && dash < space &&
        line.find(':') > space) {
      uint64_t lo = std::strtoull(line.substr(0, dash).c_str(), nullptr, 16);
      uint64_t hi = std::strtoull(line.substr(dash + 1, space - dash - 1).c_str(), nullptr, 16);
      big = hi - lo >= (1ull << 30);
    } else if (big && line.rfind("Rss:", 0) == 0) {
      kib += std::atoll(line.c_str() + 4);
    }
  }
  return kib;
}

}  // namespace

int SoakCommand(const std::vector<std::string>& args) {
  absl::StatusOr<RunSpec> spec =
      LoadSoakSpec(args, "soak", {"events", "junit", "host_stress", "stop_on_lost"});
  if (!spec.ok()) return BadInput(spec.status());
  SoakOptions so;
  so.events_path = absl::GetFlag(FLAGS_events);
  if (so.events_path.empty()) so.events_path = DefaultEventsPath(*spec);
  so.junit_path = absl::GetFlag(FLAGS_junit);
  so.host_stress = absl::GetFlag(FLAGS_host_stress);
  so.status_interval = absl::GetFlag(FLAGS_status_interval);
  so.stop_on_lost = absl::GetFlag(FLAGS_stop_on_lost);
  return RunSoak(*spec, so).exit_code;
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
  SoakOptions so;
  so.quiet = true;
  so.host_stress = absl::GetFlag(FLAGS_host_stress);
  so.status_interval = absl::GetFlag(FLAGS_status_interval);
  if (which == "soak-overhead") {
    // stress-ng does not touch the watchdogs' code path but made the rate
    // swing 15-30% between rounds even on an otherwise idle host (sync()
    // from its io workers, its vm workers' memory traffic): off unless asked.
    if (!FlagGiven("host_stress")) so.host_stress = false;
    return SoakOverheadBench(*spec, so, tmp);
  }
  if (which == "soak-rss") {
    // RSS of this process over a soak, sampled every --rss-every.
    const absl::Duration every = absl::GetFlag(FLAGS_rss_every);
    so.events_path = absl::StrCat(tmp, "/kvmbed-soak-rss-", getpid(), ".jsonl");
    absl::Duration next = absl::ZeroDuration();
    std::vector<std::pair<double, int64_t>> samples;
    std::vector<int64_t> vmm_samples;  // RSS minus resident guest RAM
    so.on_status = [&](absl::Duration elapsed, const Totals& t) {
      if (elapsed < next) return;
      next = elapsed + every;
      int64_t kib = RssKib();
      int64_t guest = GuestRamRssKib();
      samples.push_back({absl::ToDoubleSeconds(elapsed), kib});
      vmm_samples.push_back(kib - guest);
      std::printf("t=%7.1fs  RSS %8.1f MiB = guest RAM touched %8.1f MiB + VMM %6.1f MiB  "
                  "IPIs %llu  vms online %d\n",
                  absl::ToDoubleSeconds(elapsed), static_cast<double>(kib) / 1024,
                  static_cast<double>(guest) / 1024, static_cast<double>(kib - guest) / 1024,
                  static_cast<unsigned long long>(t.ipis), t.online);
      std::fflush(stdout);
    };
    int vcpus = 0;
    for (const VmSpec& vm : spec->vms) vcpus += vm.vcpus;
    std::printf("soak-rss %s: %d VMs, %d vCPUs, %s, sample every %s\n", spec->name.c_str(),
                static_cast<int>(spec->vms.size()), vcpus,
                absl::FormatDuration(spec->duration).c_str(),
                absl::FormatDuration(every).c_str());
    SoakOutcome o = RunSoak(*spec, so);
    struct stat st;
    int64_t log_bytes = stat(so.events_path.c_str(), &st) == 0 ? st.st_size : -1;
    unlink(so.events_path.c_str());
    unlink((so.events_path + ".stress-ng.yaml").c_str());
    unlink((so.events_path + ".stress-ng.log").c_str());
    if (o.exit_code == kExitBadInput) return kExitBadInput;
    // Growth after warm-up: last sample vs the first sample past 1/4 of the run.
    if (samples.size() >= 2) {
      size_t w = 0;
      while (w + 1 < samples.size() && samples[w].first < samples.back().first / 4) ++w;
      int64_t peak = 0;
      for (auto& s : samples) peak = std::max(peak, s.second);
      std::printf(
          "soak-rss: ran %s; RSS after warm-up (t=%.0fs) %.1f MiB, at the end %.1f MiB "
          "(growth %+.1f MiB), peak %.1f MiB; event log %lld bytes\n",
          absl::FormatDuration(absl::Trunc(o.ran_for, absl::Seconds(1))).c_str(), samples[w].first,
          samples[w].second / 1024.0, samples.back().second / 1024.0,
          (samples.back().second - samples[w].second) / 1024.0, peak / 1024.0,
          static_cast<long long>(log_bytes));
      std::printf(
          "soak-rss: VMM RSS (without guest RAM) after warm-up %.1f MiB, at the end %.1f MiB "
          "(growth %+.1f MiB)\n",
          vmm_samples[w] / 1024.0, vmm_samples.back() / 1024.0,
          (vmm_samples.back() - vmm_samples[w]) / 1024.0);
    }
    return kExitClean;
  }
  return BadInput(absl::StrCat("bench ", which, ": use soak-overhead or soak-rss"));
}

}  // namespace kvmbed
