// `kvmbed bench soak-overhead` and `kvmbed bench soak-rss` (soak_bench.h).
#include "bench/soak_bench.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/exit_codes.h"
#include "base/sample_stats.h"
#include "base/stop_signal.h"
#include "guest/abi.h"

namespace kvmbed {
namespace bench {
namespace {

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

  // runner::SoakOptions::on_sample; true once every VM's window has ended.
  bool Sample(absl::Time now, const runner::Totals& t) {
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
}  // namespace

absl::Status SoakOverheadBench(const RunSpec& spec, runner::SoakOptions so,
                               const SoakOverheadOptions& options) {
  const int want = options.pairs;
  const absl::Duration warmup = options.warmup;
  const absl::Duration window = spec.duration;
  const double min_share = options.min_cpu_share;
  const std::string& tmp = options.tmp_dir;
  if (want < 3) return absl::InvalidArgumentError("bench soak-overhead: --runs (pairs) must be at least 3");
  if (warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "bench soak-overhead: --warmup must not be negative; e.g. --warmup=1s");
  }
  if (!(min_share >= 0 && min_share <= 1)) {
    return absl::InvalidArgumentError(
        "bench soak-overhead: --min-cpu-share must be 0..1; e.g. 0.9, or 0 to keep every round");
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
      so.on_sample = [&round](absl::Time now, const runner::Totals& t) { return round.Sample(now, t); };
      so.events_path = absl::StrCat(tmp, "/kvmbed-soak-overhead-", getpid(), ".jsonl");
      runner::SoakOutcome o = runner::RunSoak(run, so);
      unlink(so.events_path.c_str());
      unlink((so.events_path + ".stress-ng.yaml").c_str());
      unlink((so.events_path + ".stress-ng.log").c_str());
      if (o.exit_code == kExitBadInput) {
        return absl::InvalidArgumentError(o.error.empty() ? "a round could not run" : o.error);
      }
      if (o.exit_code == kExitFound) ++found;
      if (StopSignalReceived() != 0) break;
      if (!round.Done()) {
        return absl::InternalError(absl::StrCat(
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
  return absl::OkStatus();
}

namespace {

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

absl::Status SoakRssBench(const RunSpec& spec, runner::SoakOptions so,
                          const SoakRssOptions& options) {
  // RSS of this process over a soak, sampled every --rss-every.
  const absl::Duration every = options.every;
  const std::string& tmp = options.tmp_dir;
  so.events_path = absl::StrCat(tmp, "/kvmbed-soak-rss-", getpid(), ".jsonl");
  absl::Duration next = absl::ZeroDuration();
  std::vector<std::pair<double, int64_t>> samples;
  std::vector<int64_t> vmm_samples;  // RSS minus resident guest RAM
  so.on_status = [&](absl::Duration elapsed, const runner::Totals& t) {
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
  for (const VmSpec& vm : spec.vms) vcpus += vm.vcpus;
  std::printf("soak-rss %s: %d VMs, %d vCPUs, %s, sample every %s\n", spec.name.c_str(),
              static_cast<int>(spec.vms.size()), vcpus,
              absl::FormatDuration(spec.duration).c_str(),
              absl::FormatDuration(every).c_str());
  runner::SoakOutcome o = runner::RunSoak(spec, so);
  struct stat st;
  int64_t log_bytes = stat(so.events_path.c_str(), &st) == 0 ? st.st_size : -1;
  unlink(so.events_path.c_str());
  unlink((so.events_path + ".stress-ng.yaml").c_str());
  unlink((so.events_path + ".stress-ng.log").c_str());
  if (o.exit_code == kExitBadInput) {
    return absl::InvalidArgumentError(o.error.empty() ? "the soak could not run" : o.error);
  }
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
  return absl::OkStatus();
}

}  // namespace bench
}  // namespace kvmbed
