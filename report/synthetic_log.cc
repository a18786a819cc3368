#include "report/synthetic_log.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace kvmbed {
namespace report {
namespace {

class Writer {
 public:
  explicit Writer(FILE* f) : f_(f) {}
  void Emit(double t, const std::string& type, nlohmann::json fields) {
    fields["t"] = t;
    fields["type"] = type;
    std::string s = fields.dump() + "\n";
    std::fwrite(s.data(), 1, s.size(), f_);
    ++lines_;
  }
  int lines() const { return lines_; }

 private:
  FILE* f_;
  int lines_ = 0;
};

// Deterministic pseudo-random numbers in [0, 1).
struct Lcg {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  double Next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(s >> 11) / 9007199254740992.0;
  }
};

// A latency histogram whose total grows with time (log-normal-ish around
// 2^14 ns ~ 16 us with a long tail).
nlohmann::json Histogram(const std::string& plane, const std::string& vm, double scale,
                         uint64_t* total) {
  nlohmann::json buckets = nlohmann::json::array();
  uint64_t count = 0;
  double sum = 0, max_ns = 0;
  for (int e = 10; e <= 30; ++e) {
    double d = e - 14.5;
    uint64_t c = static_cast<uint64_t>(scale * std::exp(-d * d / (d < 0 ? 1.5 : 6.0)));
    buckets.push_back({std::ldexp(1.0, e), c});
    count += c;
    sum += c * std::ldexp(0.75, e);
    if (c) max_ns = std::ldexp(0.9, e);
  }
  *total = count;
  nlohmann::json j = {{"plane", plane}, {"unit", "ns"},   {"buckets", buckets},
                      {"count", count}, {"sum_ns", sum}, {"max_ns", max_ns}};
  if (!vm.empty()) j["vm"] = vm;
  return j;
}

}  // namespace

absl::Status WriteSyntheticLog(const std::string& path, const SyntheticOptions& o,
                               SyntheticFacts* facts) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "w"), &std::fclose);
  if (!f) return absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", path));
  Writer w(f.get());
  Lcg rng;
  SyntheticFacts local;
  SyntheticFacts& x = facts ? *facts : local;
  x = SyntheticFacts();
  const double D = o.duration_s;
  w.Emit(0, "run_start",
         {{"profile", "configs/seed-soak.yaml"}, {"name", "seed-soak"}, {"duration_s", D},
          {"vms", o.vms.size()}, {"cpus_folded", true}, {"kernel_model", "buggy-no-host-ipi-mb"},
          {"mode", "native"}, {"host_cpus", 2}, {"kvm", "svm"}, {"kvm_nested", false}});
  for (const auto& vm : o.vms) w.Emit(0.05, "vm_online", {{"vm", vm.name}, {"boot_ms", 48.5}});
  w.Emit(0.06, "console", {{"vm", o.vms[0].name}, {"vcpu", 0}, {"text", "kvmbed guest: online"}});

  // The story: vm0 vCPU 17 stops beating at 0.4 D for 25 s (a csd stall on
  // it turns lost, then a soft lockup); a slow stall in vm1 at 0.7 D; a lost
  // host-plane stall with no VM whose report carries HTML.
  const double stuck_from = 0.4 * D, stuck_for = std::min(25.0, 0.2 * D);
  const int stuck_vcpu = std::min(17, o.vms[0].vcpus - 1);
  std::vector<std::vector<double>> counts;
  for (const auto& vm : o.vms) counts.emplace_back(vm.vcpus, 0.0);
  double ipis = 0;
  bool stall1 = false, stall1_lost = false, lockup = false, stall2 = false, stall3 = false;
  const std::string html_report =
      "csd: Detected non-responsive CSD lock (#1) on CPU#1, waiting 5000000000 ns for CPU#0 "
      "do_nothing(0x0).\n csd: CSD lock (#1) unresponsive.\n target: in guest, host_ipi=0, "
      "pending=<CALL_FUNCTION>\n <script>document.title='pwned'</script></pre>&amp; done";
  for (double t = o.period_s; t <= D + 1e-9; t += o.period_s) {
    double rate = 20000 * (o.noisy ? 0.5 + rng.Next() : 1.0);
    ipis += rate * o.period_s;
    bool in_stall = t >= stuck_from && t < stuck_from + stuck_for;
    double wait = in_stall ? (t - stuck_from) * 1e9 : 40000 + 60000 * rng.Next();
    w.Emit(t, "status",
           {{"elapsed_s", t}, {"ipis", ipis}, {"ipis_per_s", rate},
            {"csd_waits", std::floor(ipis / 2)}, {"max_wait_ns", wait},
            {"stalls_lost", stall1_lost ? 2 : (stall3 ? 1 : 0)}, {"stalls_slow", stall2 ? 1 : 0}});
    for (size_t v = 0; v < o.vms.size(); ++v) {
      for (int c = 0; c < o.vms[v].vcpus; ++c) {
        double r = 1000 * (o.noisy ? 0.05 + rng.Next() * 2 : 1.0 + 0.1 * std::sin(t / 30 + c));
        if (v == 0 && c == stuck_vcpu && in_stall) r = 0;
        counts[v][c] += std::floor(r * o.period_s);
      }
      std::vector<uint64_t> ints(counts[v].begin(), counts[v].end());
      w.Emit(t, "heartbeats", {{"vm", o.vms[v].name}, {"counts", ints}});
    }
    if (!stall1 && t >= stuck_from + 5) {
      stall1 = true;
      w.Emit(t, "stall",
             {{"plane", "guest"}, {"vm", o.vms[0].name}, {"seq", 1}, {"waiter", 3},
              {"target", stuck_vcpu}, {"func", "flush_tlb_func"}, {"info", "0xffff8880"},
              {"wait_ns", 5e9}, {"verdict", "pending"}, {"continued", false},
              {"report", absl::StrCat("csd: Detected non-responsive CSD lock (#1) on CPU#3, "
                                      "waiting 5000000000 ns for CPU#",
                                      stuck_vcpu, " flush_tlb_func(0xffff8880).\n")}});
    }
    if (stall1 && !stall1_lost && t >= stuck_from + 10) {
      stall1_lost = true;
      w.Emit(t, "stall",
             {{"plane", "guest"}, {"vm", o.vms[0].name}, {"seq", 1}, {"waiter", 3},
              {"target", stuck_vcpu}, {"func", "flush_tlb_func"}, {"info", "0xffff8880"},
              {"wait_ns", 1e10}, {"verdict", "lost"}, {"continued", true},
              {"report", "csd: CSD lock (#1) Continued: target took the doorbell with "
                         "host_ipi=0 while CALL_FUNCTION was pending: lost IPI\n"}});
    }
    if (!lockup && t >= stuck_from + stuck_for) {
      lockup = true;
      w.Emit(t, "soft_lockup",
             {{"vm", o.vms[0].name}, {"vcpu", stuck_vcpu}, {"stuck_s", stuck_for},
              {"report", absl::StrCat("watchdog: BUG: soft lockup - vCPU#", stuck_vcpu,
                                      " stuck for ", stuck_for, "s!\n RIP: spin+0x4/0x20")}});
    }
    if (!stall2 && o.vms.size() > 1 && t >= 0.7 * D) {
      stall2 = true;
      w.Emit(t, "stall",
             {{"plane", "guest"}, {"vm", o.vms[1].name}, {"seq", 1}, {"waiter", 0},
              {"target", std::min(2, o.vms[1].vcpus - 1)}, {"func", "do_nothing"},
              {"info", "0x0"}, {"wait_ns", 2.1e7}, {"verdict", "pending"},
              {"continued", false}, {"report", "csd: Detected non-responsive CSD lock (#1)\n"}});
      w.Emit(t + 0.2, "stall_cleared",
             {{"plane", "guest"}, {"vm", o.vms[1].name}, {"seq", 1}, {"waiter", 0},
              {"target", std::min(2, o.vms[1].vcpus - 1)}, {"wait_ns", 2.3e7}});
      w.Emit(t + 0.2, "stall",
             {{"plane", "guest"}, {"vm", o.vms[1].name}, {"seq", 1}, {"waiter", 0},
              {"target", std::min(2, o.vms[1].vcpus - 1)}, {"func", "do_nothing"},
              {"info", "0x0"}, {"wait_ns", 2.3e7}, {"verdict", "slow"},
              {"continued", true}, {"report", "csd: CSD lock (#1) got unstuck: slow, not lost\n"}});
    }
    if (!stall3 && t >= 0.85 * D) {
      stall3 = true;
      w.Emit(t, "stall",
             {{"plane", "host"}, {"seq", 7}, {"waiter", 1}, {"target", 0}, {"func", "do_nothing"},
              {"info", "0x0"}, {"wait_ns", 5e9}, {"verdict", "lost"}, {"continued", false},
              {"report", html_report}});
    }
    if (std::fmod(t + 1e-9, 10.0) < o.period_s || t + o.period_s > D + 1e-9) {
      double scale = t * 50;
      w.Emit(t, "ipi_latency", Histogram("guest", o.vms[0].name, scale, &x.guest_ipis));
      w.Emit(t, "ipi_latency", Histogram("host", "", scale / 3, &x.host_ipis));
    }
  }
  w.Emit(D, "console", {{"vm", o.vms[0].name}, {"vcpu", 3}, {"text", "<b>not bold</b>"}});
  if (o.with_run_end) {
    for (size_t v = 0; v < o.vms.size(); ++v) {
      nlohmann::json per = nlohmann::json::array();
      for (int c = 0; c < o.vms[v].vcpus; ++c) {
        per.push_back({{"vcpu", c},
                       {"pinned", true},
                       {"affinity_requested", {c / 2 * 2, c / 2 * 2 + 1}},
                       {"affinity_in_force", {0, 1}},
                       {"ran_on", {c % 2}},
                       {"exits", {{"IO", 100 + c}, {"HLT", 5}}},
                       {"kicks", 3},
                       {"heartbeats", static_cast<uint64_t>(counts[v][c])},
                       {"state", "stopped"}});
      }
      w.Emit(D + 0.1, "vm_summary",
             {{"vm", o.vms[v].name}, {"vcpus", o.vms[v].vcpus}, {"memory_bytes", 64 << 20},
              {"all_online", true}, {"boot_ms", 48.5}, {"run_s", D}, {"error", ""},
              {"per_vcpu", per}});
    }
    w.Emit(D + 0.2, "run_end", {{"exit_code", 1}, {"signal", 0}, {"verdict", "lost IPI"}});
  }
  x.lines = w.lines();
  if (!o.truncate_tail.empty()) std::fputs(o.truncate_tail.c_str(), f.get());
  x.stalls = 3;
  x.lost = 2;
  x.slow = 1;
  if (std::ferror(f.get())) return absl::DataLossError(absl::StrCat("writing ", path));
  return absl::OkStatus();
}

}  // namespace report
}  // namespace kvmbed
