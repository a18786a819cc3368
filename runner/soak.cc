// `kvmbed soak`: every VM of a profile with its guest workload, plus the host
// stress (real stress-ng), for as long as asked, with a live status line, a
// lossless JSON-lines event log, an orderly stop on SIGINT/SIGTERM and a
// JUnit XML result (soak.h).
#include "runner/soak.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
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
#include <string>
#include <thread>
#include <vector>

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
#include "base/exit_codes.h"
#include "base/stop_signal.h"
#include "guest/abi.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "yaml-cpp/yaml.h"

namespace kvmbed {
namespace runner {

std::vector<std::string> HostStressCommandLine(const HostStressSpec& h, absl::Duration duration,
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


namespace {
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
  // stress-ng never stressed: it ended by itself with 127 (its exec failed in
  // the child) or 1 (stress-ng's "error": bad options or a harness set-up
  // failure), as opposed to a stressor failing under load (2, 3, ...).
  bool could_not_start() const {
    return started() && ended_early_ && WIFEXITED(status_) &&
           (WEXITSTATUS(status_) == 127 || WEXITSTATUS(status_) == 1);
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

Totals Sum(const std::vector<SmpRunner*>& runners) {
  Totals t;
  for (SmpRunner* r : runners) {
    SmpLive l = r->Live();
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
uint64_t PeriodMaxNs(const std::vector<SmpRunner*>& runners) {
  uint64_t m = 0;
  for (SmpRunner* r : runners) {
    m = std::max({m, r->EndWaitPeriod(), r->EndHostWaitPeriod()});
  }
  return m;
}


// The stop callbacks of stop_signal.h take (fn, arg).
void StopRunner(void* arg) { static_cast<SmpRunner*>(arg)->RequestStop(); }

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

}  // namespace

std::string DefaultEventsPath(const RunSpec& spec) {
  return absl::StrCat("soak-", spec.name, "-",
                      absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()),
                      ".jsonl");
}

SoakSummary SummarizeSoak(const SoakFacts& f) {
  SoakSummary out;
  std::string& summary = out.text;
  JUnitReport& junit = out.junit;
  bool failed = false;
  std::vector<std::string> host_errors;  // exit 2: the host, not the guest, failed
  JUnitSuite& suite = junit.AddSuite(absl::StrCat("kvmbed.soak.", f.spec->name));
  suite.timestamp = f.started;
  suite.time = f.wall;
  suite.properties = {{"profile", f.spec->source},
                      {"duration", absl::FormatDuration(f.spec->duration)},
                      {"scale", absl::StrCat(f.spec->scale)},
                      {"cpus_folded", f.spec->cpus_folded ? "true" : "false"},
                      {"events", f.events_path}};
  const std::string cls = absl::StrCat("kvmbed.soak.", f.spec->name);
  auto add_case = [&](const std::string& name, absl::Duration time) -> JUnitCase& {
    suite.cases.push_back(JUnitCase{});
    JUnitCase& c = suite.cases.back();
    c.name = name;
    c.classname = cls;
    c.time = time;
    return c;
  };
  for (const SmpRunResult& r : *f.results) {
    const vmm::VmSummary& vm = r.vm;
    out.ipis += r.stats.count[abi::kCntIpisSent];
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
    if (vmm::IsHostError(vm.error)) {
      // The host failed this VM (KVM, guest RAM, pinning): nothing was found.
      host_errors.push_back(absl::StrCat("vm ", vm.name, ": ", vm.error.message()));
      boot.result = JUnitCase::Result::kError;
      boot.type = "host_error";
      boot.message = std::string(vm.error.message());
      boot.details = boot.message;
    } else if (!vm.error.ok() || !vm.all_online) {
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
      for (const CsdStall& s : r.stalls) {
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
  JUnitCase& hs = add_case("host stress ok", f.ran_for);
  if (!f.host_stress_ran) {
    hs.result = JUnitCase::Result::kSkipped;
    hs.message = f.spec->host_stress.enabled ? "--host-stress=false" : "no host_stress: section";
  } else {
    hs.system_out = f.stress_metrics.dump(2);
    if (f.stress_host_error) {
      host_errors.push_back(absl::StrCat("host stress: ", f.stress_problem));
      hs.result = JUnitCase::Result::kError;
      hs.type = "host_error";
      hs.message = f.stress_problem;
    } else if (!f.stress_problem.empty()) {
      failed = true;
      hs.result = JUnitCase::Result::kFailed;
      hs.type = "host_stress";
      hs.message = f.stress_problem;
    }
  }
  absl::StrAppend(&summary, "\n== host stress: ",
                  !f.host_stress_ran ? "not run"
                  : f.stress_problem.empty()
                      ? "ok"
                      : absl::StrCat("FAILED: ", f.stress_problem),
                  " ==\n");
  for (const auto& m : f.stress_metrics) {
    absl::StrAppendFormat(&summary, "  %-6s bogo-ops %12.0f  (%.1f/s real time)\n",
                          m.value("stressor", std::string("?")), m.value("bogo_ops", 0.0),
                          m.value("bogo_ops_per_second_real_time", 0.0));
  }

  JUnitCase& logc = add_case("event log complete", f.ran_for);
  if (!f.event_log_ok) {
    logc.result = JUnitCase::Result::kError;
    logc.type = "event_log";
    logc.message = f.event_log_error;
  }

  for (const std::string& e : host_errors) {
    absl::StrAppend(&summary, "\nkvmbed: host error: ", e, "\n");
  }
  int code = failed ? kExitFound : kExitClean;
  if (!f.event_log_ok || !host_errors.empty()) code = kExitBadInput;
  std::string verdict = !f.event_log_ok        ? "event log failed"
                        : !host_errors.empty() ? "host error"
                        : failed               ? "FAILURE"
                                               : "SUCCESS";
  if (host_errors.empty()) {  // what was found does not outrank a host error
    for (const SmpRunResult& r : *f.results) {
      if (r.lost_stalls > 0) verdict = "lost IPI";
      if (r.host_plane && r.host.lost > 0) verdict = "lost host IPI";
    }
  }
  out.exit_code = code;
  out.verdict = verdict;
  return out;
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
    outcome.error = absl::StrCat("--events: ", log.status().message());
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
  say(absl::StrCat(so.intro, "  ", DescribeScale(spec), "\n",
                   "  guest memory: THP ", spec.thp ? "on" : "off", ", KSM ",
                   spec.ksm ? "on" : "off", mem_note, "\n", "  host plane (hostipi): ",
                   spec.hostipi.enabled
                       ? absl::StrCat("kernel model ", spec.hostipi.kernel_model.ToString(), ", ",
                                      hostipi::OrderingModeName(spec.hostipi.ordering), " ordering",
                                      spec.hostipi.ordering == hostipi::OrderingMode::kEmulatedPower
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
                          {"kernel_model", spec.hostipi.enabled ? spec.hostipi.kernel_model.ToString() : ""},
                          {"mode", spec.hostipi.enabled ? hostipi::OrderingModeName(spec.hostipi.ordering) : ""},
                          {"store_hold_ns", spec.hostipi.enabled && spec.hostipi.ordering == hostipi::OrderingMode::kEmulatedPower ? absl::ToInt64Nanoseconds(spec.hostipi.store_hold) : 0},
                          {"command", "soak"}};
  for (const auto& [key, value] : so.run_start_fields.items()) start[key] = value;
  events.Emit("run_start", start);

  // Host stress first, so the VMs boot into a loaded host as in the seed.
  HostStress stress;
  const bool want_stress = spec.host_stress.enabled && so.host_stress;
  const std::string stress_yaml = so.events_path + ".stress-ng.yaml";
  const std::string stress_log = so.events_path + ".stress-ng.log";
  if (want_stress) {
    std::vector<std::string> argv =
        HostStressCommandLine(spec.host_stress, spec.duration, stress_yaml);
    say(absl::StrCat("host stress: ", absl::StrJoin(argv, " "), "\n"));
    events.Emit("host_stress_start", {{"argv", argv}, {"log", stress_log}});
    absl::Status s = stress.Start(argv, stress_log);
    if (!s.ok()) {
      events.Emit("run_end", {{"exit_code", kExitBadInput}, {"signal", 0},
                              {"verdict", "setup error"}, {"error", std::string(s.message())}});
      outcome.error = std::string(s.message());
      return outcome;
    }
  }

  // The VMs: RunGuestWorkloads creates (and calibrates) every runner, then
  // runs them; this thread watches and prints the status meanwhile.
  absl::Mutex mu;
  std::vector<SmpRunner*> runners;  // guarded by mu
  std::atomic<bool> finished{false};
  std::atomic<bool> stopping{false};  // a runner created from now on stops at once
  absl::StatusOr<std::vector<SmpRunResult>> results = absl::UnknownError("not run");
  SmpRunOptions base;
  base.watchdogs = so.watchdogs;
  std::thread vm_thread([&]() {
    results = RunGuestWorkloads(
        spec, [&](const std::string& t) { say(t); }, &events,
        [&](SmpRunner& r) {
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
    for (SmpRunner* r : runners) r->RequestStop();
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
  bool stress_host_error = false;
  if (want_stress) {
    stress.Stop();
    absl::StatusOr<nlohmann::json> m = ReadStressNgMetrics(stress_yaml);
    if (m.ok()) {
      stress_metrics = *m;
    } else {
      stress_problem = std::string(m.status().message());
    }
    if (stress.could_not_start()) {
      stress_host_error = true;
      stress_problem = absl::StrCat("stress-ng could not start: ", stress.Describe(), " (log ",
                                    stress_log, ")");
    } else if (!stress.ok() && stress_problem.empty()) {
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
    outcome.error = msg;
    return outcome;
  }
  outcome.results = *results;

  SoakFacts facts;
  facts.spec = &spec;
  facts.results = &outcome.results;
  facts.events_path = so.events_path;
  facts.started = t0;
  facts.wall = absl::Now() - t0;
  facts.ran_for = outcome.ran_for;
  facts.host_stress_ran = want_stress;
  facts.stress_metrics = stress_metrics;
  facts.stress_problem = stress_problem;
  facts.stress_host_error = stress_host_error;
  facts.event_log_ok = !log_failed && events.status().ok();
  facts.event_log_error = std::string(events.status().message());
  for (const SmpRunResult& r : outcome.results) {
    events.Emit("vm_summary", VmSummaryEventFields(r.vm));
  }
  SoakSummary s = SummarizeSoak(facts);
  outcome.ipis = s.ipis;
  int code = s.exit_code;
  const std::string& verdict = s.verdict;
  const std::string& summary = s.text;
  JUnitReport& junit = s.junit;
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

}  // namespace runner
}  // namespace kvmbed
