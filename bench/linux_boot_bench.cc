#include "bench/linux_boot_bench.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/sample_stats.h"
#include "nlohmann/json.hpp"

namespace kvmbed {
namespace bench {
namespace {

constexpr char kInitLine[] = "kvmbed-init: start";

bool FileContains(const std::string& path, const char* needle) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StrContains(line, needle)) return true;
  }
  return false;
}

std::string Tail(const std::string& path, size_t max_lines) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (lines.size() > max_lines) lines.erase(lines.begin());
  }
  return absl::StrJoin(lines, " / ");
}

// Spawns argv with stdout and stderr to `log`, polls `console` for the init
// line and waits for the exit; `want_status` is the exit status of a clean
// boot (kvmbed 0, QEMU's isa-debug-exit (0 << 1) | 1).
LinuxBootSample Boot(const std::vector<std::string>& argv, const std::string& console,
                     const std::string& log, int want_status, absl::Duration timeout) {
  LinuxBootSample s;
  unlink(console.c_str());
  const absl::Time t0 = absl::Now();
  pid_t pid = fork();
  if (pid < 0) {
    s.error = absl::StrCat("fork: ", std::strerror(errno));
    return s;
  }
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int devnull = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (devnull >= 0) dup2(devnull, 0);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  bool exited = false;
  while (true) {
    pid_t w = wait4(pid, &status, WNOHANG, &ru);
    const absl::Time now = absl::Now();
    if (s.to_init_s < 0 && FileContains(console, kInitLine)) {
      s.to_init_s = absl::ToDoubleSeconds(now - t0);
    }
    if (w == pid) {
      exited = true;
      s.total_s = absl::ToDoubleSeconds(now - t0);
      break;
    }
    if (now - t0 > timeout) {
      kill(pid, SIGKILL);
      wait4(pid, &status, 0, &ru);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  s.peak_rss_kib = ru.ru_maxrss;
  if (!exited) {
    s.error = absl::StrCat("no power-off within ", absl::FormatDuration(timeout), "; log: ",
                           Tail(log, 3));
  } else if (s.to_init_s < 0) {
    s.error = absl::StrCat("no \"", kInitLine, "\" on the console; log: ", Tail(log, 3));
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != want_status) {
    s.error = absl::StrCat(WIFEXITED(status) ? absl::StrCat("exit status ", WEXITSTATUS(status))
                                             : absl::StrCat("killed by signal ", WTERMSIG(status)),
                           " (a clean boot gives ", want_status, "); log: ", Tail(log, 3));
  } else {
    s.ok = true;
  }
  return s;
}

bool Executable(const std::string& name) {
  if (absl::StrContains(name, "/")) return access(name.c_str(), X_OK) == 0;
  const char* path = getenv("PATH");
  if (path == nullptr) return false;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (access(absl::StrCat(dir, "/", name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// kvmbed with its RIP sampling at 0.1 Hz: at most a few samples in a boot,
// so its ratio to "kvmbed" is what the watch costs.
constexpr double kUnwatchedHz = 0.1;

std::string Yaml(const LinuxBootBenchOptions& o, const std::string& console, double sample_hz = 0) {
  std::string y = absl::StrFormat(
      "name: linux-boot-bench\nvcpus: %d\nmemory: %dM\nguest:\n  kernel: %s\n  console_log: %s\n"
      "  timeout: %ds\n",
      o.vcpus, o.memory_bytes >> 20, o.kernel, console,
      static_cast<int>(absl::ToInt64Seconds(o.timeout)));
  if (!o.initrd.empty()) absl::StrAppend(&y, "  initrd: ", o.initrd, "\n");
  if (!o.cmdline.empty()) absl::StrAppend(&y, "  cmdline: \"", o.cmdline, "\"\n");
  if (sample_hz > 0) absl::StrAppend(&y, "  sample_hz: ", sample_hz, "\n");
  return y;
}

// One kvmbed boot: BASE.yaml (its profile), BASE.console, BASE.jsonl (its
// events), BASE.log.
LinuxBootSample BootKvmbed(const LinuxBootBenchOptions& o, const std::string& base,
                           double sample_hz) {
  const std::string profile = base + ".yaml";
  std::ofstream(profile) << Yaml(o, base + ".console", sample_hz);
  return Boot({o.kvmbed, "--nested=no", "--fold-cpus", "run", absl::StrCat("--events=", base, ".jsonl"),
               profile},
              base + ".console", base + ".log", 0, o.timeout);
}

// Fills the inputs from kvmbed's linux_boot event.
bool ReadBootEvent(const std::string& events, LinuxBootBenchResult* r) {
  std::ifstream in(events);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("type", "") != "linux_boot") continue;
    r->kernel = j.value("kernel", "");
    r->initrd = j.value("initrd", "");
    r->cmdline = j.value("cmdline", "");
    return !r->kernel.empty() && !r->initrd.empty();
  }
  return false;
}

std::string Figure(const std::vector<double>& v, const char* unit, int precision) {
  if (v.empty()) return "-";
  const SampleSummary s = Summarize(v);
  return absl::StrFormat("%.*f%s (%.*f..%.*f)", precision, s.median, unit, precision, s.min,
                         precision, s.max);
}

}  // namespace

bool IsLinuxBootVmm(const std::string& name) {
  return name == "kvmbed" || name == "kvmbed-unwatched" || name == "qemu-pc" ||
         name == "qemu-microvm";
}

std::vector<std::string> QemuBootArgv(const std::string& qemu, const std::string& machine,
                                      const LinuxBootBenchResult& in,
                                      const std::string& console_path) {
  // Each machine with the devices this guest uses and nothing else: the
  // serial console, and the exit port its init writes the status to.
  return {qemu,
          "-M", machine == "microvm" ? "microvm,acpi=off,rtc=on" : "pc",
          "-enable-kvm", "-cpu", "host",
          "-smp", absl::StrCat(in.vcpus),
          "-m", absl::StrCat(in.memory_bytes >> 20, "M"),
          "-kernel", in.kernel, "-initrd", in.initrd, "-append", in.cmdline,
          "-display", "none", "-nodefaults", "-no-user-config",
          "-serial", absl::StrCat("file:", console_path),
          "-device", "isa-debug-exit,iobase=0x4f0,iosize=1",
          "-no-reboot"};
}

absl::StatusOr<LinuxBootBenchResult> RunLinuxBootBench(const LinuxBootBenchOptions& o) {
  if (o.runs < 1) return absl::InvalidArgumentError("--runs must be at least 1");
  if (o.vcpus < 1) return absl::InvalidArgumentError("vcpus must be at least 1");
  if (o.vmms.empty() || o.vmms[0] != "kvmbed") {
    return absl::InvalidArgumentError("the VMM list must start with kvmbed");
  }
  for (const std::string& v : o.vmms) {
    if (!IsLinuxBootVmm(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown VMM '", v,
                       "' (one of: kvmbed, kvmbed-unwatched, qemu-pc, qemu-microvm)"));
    }
  }
  if (o.work_dir.empty() || mkdir(o.work_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InvalidArgumentError(absl::StrCat("cannot use work directory '", o.work_dir, "'"));
  }
  LinuxBootBenchResult r;
  r.vcpus = o.vcpus;
  r.memory_bytes = o.memory_bytes;
  for (const std::string& v : o.vmms) r.rows.push_back({v, {}});
  const bool have_qemu = Executable(o.qemu);
  // An untimed kvmbed boot first: it builds what is not cached yet (the
  // default initramfs), reads the kernel into the page cache, and its
  // linux_boot event tells the peers the exact kernel, initramfs and
  // command line.
  {
    const std::string base = absl::StrCat(o.work_dir, "/kvmbed-warmup");
    const std::string events = base + ".jsonl";
    LinuxBootSample warm = BootKvmbed(o, base, 0);
    if (!ReadBootEvent(events, &r)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "kvmbed's warm-up boot wrote no linux_boot event to ", events, " (",
          warm.ok ? "it exited 0" : warm.error, "); its log: ", base + ".log"));
    }
  }
  // Every timed kvmbed boot gets the resolved files, as QEMU does: finding
  // (or building) the default initramfs is not part of a boot.
  LinuxBootBenchOptions resolved = o;
  resolved.kernel = r.kernel;
  resolved.initrd = r.initrd;
  for (int run = 0; run < o.runs; ++run) {
    for (LinuxBootRow& row : r.rows) {
      const std::string base = absl::StrCat(o.work_dir, "/", row.vmm, "-", run + 1);
      const std::string console = base + ".console";
      if (row.vmm == "kvmbed" || row.vmm == "kvmbed-unwatched") {
        row.samples.push_back(BootKvmbed(resolved, base, row.vmm == "kvmbed" ? 0 : kUnwatchedHz));
        continue;
      }
      if (!have_qemu) {
        LinuxBootSample s;
        s.error = absl::StrCat(o.qemu, " not found (Debian package qemu-system-x86)");
        row.samples.push_back(s);
        continue;
      }
      row.samples.push_back(Boot(QemuBootArgv(o.qemu, row.vmm == "qemu-pc" ? "pc" : "microvm", r,
                                              console),
                                 console, base + ".log", 1, o.timeout));
    }
  }
  return r;
}

std::string FormatLinuxBootBench(const LinuxBootBenchResult& r) {
  std::string out = absl::StrFormat(
      "linux-boot: %d vCPUs, %d MiB, kernel %s, initramfs %s\n  cmdline: %s\n", r.vcpus,
      r.memory_bytes >> 20, r.kernel, r.initrd, r.cmdline);
  absl::StrAppend(&out, absl::StrFormat("  %-17s %-5s %-24s %-24s %-22s %s\n", "vmm", "ok",
                                        "to init s (range)", "total s (range)",
                                        "peak RSS MiB (range)", "vs kvmbed (to init, RSS)"));
  double base_init = 0, base_rss = 0;
  std::vector<std::string> failures;
  for (const LinuxBootRow& row : r.rows) {
    std::vector<double> init, total, rss;
    for (size_t i = 0; i < row.samples.size(); ++i) {
      const LinuxBootSample& s = row.samples[i];
      if (!s.ok) {
        failures.push_back(absl::StrCat("  ", row.vmm, " run ", i + 1, ": ", s.error));
        continue;
      }
      init.push_back(s.to_init_s);
      total.push_back(s.total_s);
      rss.push_back(s.peak_rss_kib / 1024.0);
    }
    std::string ratio = "-";
    if (!init.empty()) {
      const double mi = Median(init), mr = Median(rss);
      if (row.vmm == "kvmbed") {
        base_init = mi;
        base_rss = mr;
        ratio = "1.00, 1.00";
      } else if (base_init > 0 && base_rss > 0) {
        ratio = absl::StrFormat("%.2f, %.2f", mi / base_init, mr / base_rss);
      }
    }
    absl::StrAppend(&out, absl::StrFormat("  %-17s %-5s %-24s %-24s %-22s %s\n", row.vmm,
                                          absl::StrCat(init.size(), "/", row.samples.size()),
                                          Figure(init, "", 2), Figure(total, "", 2),
                                          Figure(rss, "", 0), ratio));
  }
  absl::StrAppend(&out,
                  "  medians over the boots that reached init; VMMs alternate within each round. "
                  "Under a nested L1 (QEMU TCG) the times are functional only.\n");
  if (!failures.empty()) {
    absl::StrAppend(&out, "failed boots:\n", absl::StrJoin(failures, "\n"), "\n");
  }
  return out;
}

}  // namespace bench
}  // namespace kvmbed
