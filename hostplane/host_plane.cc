#include "hostplane/host_plane.h"

#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/cpuset.h"
#include "base/atomic_max.h"
#include "base/status_macros.h"
#include "hostipi/stall_report.h"
#include "hostipi/workload.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace hostplane {

using hostipi::CpuMemory;
using hostipi::HostIpiPlane;
using hostipi::SharedWord;
using hostipi::StallAction;
using hostipi::StallReport;
using hostipi::StallVerdict;

namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int BucketOf(int64_t ns) {
  int b = 0;
  while (b < 47 && (int64_t{1} << b) < ns) ++b;
  return b;
}

}  // namespace

// The CpuMemory of one thread that is a modelled host CPU (a vCPU thread or
// a ksmd thread): hostipi's native memory (relaxed atomics, real fences; the
// hardware decides) or, for kEmulatedPower, a ThreadStoreBuffers CPU in
// front of it; plus the test hook that drops one host_ipi store.
//
// Threading: used only by its own thread, except StopRequested()/NowNs().
class HostPlane::ThreadMemory final : public CpuMemory {
 public:
  ThreadMemory(HostPlane* owner, std::unique_ptr<CpuMemory> inner, uint64_t seed)
      : rng(seed), owner_(owner), inner_(std::move(inner)) {}

  int cpu() const override { return inner_->cpu(); }
  uint64_t Load(SharedWord& w) override { return inner_->Load(w); }
  void Store(SharedWord& w, uint64_t v) override {
    if (v == 1 && owner_->drop_host_ipi_of_.load(std::memory_order_relaxed) >= 0 &&
        MaybeDrop(w)) {
      return;
    }
    inner_->Store(w, v);
  }
  void StoreByte(SharedWord& w, int byte, uint8_t v) override { inner_->StoreByte(w, byte, v); }
  uint64_t Exchange(SharedWord& w, uint64_t v, bool ordered) override {
    return inner_->Exchange(w, v, ordered);
  }
  uint64_t FetchOr(SharedWord& w, uint64_t bits, bool ordered) override {
    return inner_->FetchOr(w, bits, ordered);
  }
  void FullBarrier() override { inner_->FullBarrier(); }
  void LightBarrier() override { inner_->LightBarrier(); }
  void Signal(SharedWord& w, uint64_t v) override { inner_->Signal(w, v); }
  void Relax() override { inner_->Relax(); }
  bool StopRequested() const override { return inner_->StopRequested(); }
  std::vector<std::string> BufferedStores() const override { return inner_->BufferedStores(); }
  int64_t NowNs() const override { return inner_->NowNs(); }

  hostipi::SplitMix64 rng;  // the owning thread's randomness

 private:
  // Test hook: drops the first store of host_ipi[target] = 1 once armed.
  bool MaybeDrop(SharedWord& w) {
    const int target = owner_->drop_host_ipi_of_.load(std::memory_order_relaxed);
    char want[32];
    std::snprintf(want, sizeof(want), "host_ipi[%d]", target);
    if (std::strcmp(w.name, want) != 0) return false;
    int expected = target;
    return owner_->drop_host_ipi_of_.compare_exchange_strong(expected, -1);
  }

  HostPlane* const owner_;
  const std::unique_ptr<CpuMemory> inner_;
};

int64_t LatencyHistogram::ApproxQuantile(double q) const {
  if (count == 0) return 0;
  int64_t want = static_cast<int64_t>(q * static_cast<double>(count));
  int64_t seen = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    seen += counts[b];
    if (seen > want) return int64_t{1} << b;
  }
  return int64_t{1} << (counts.size() - 1);
}

absl::Status ValidateHostIpiSpec(const HostIpiSpec& s) {
  auto bad = [](const std::string& m) { return absl::InvalidArgumentError("hostipi." + m); };
  if (s.store_hold <= absl::ZeroDuration() || s.store_hold > absl::Seconds(1)) {
    return bad(absl::StrCat("store_hold = ", absl::FormatDuration(s.store_hold),
                            ": use a hold in (0, 1s], e.g. 1ms"));
  }
  if (s.ksmd_threads < 0 || s.ksmd_threads > 8) {
    return bad(absl::StrCat("ksmd_threads = ", s.ksmd_threads, ": use 0..8"));
  }
  if (!(s.exit_call_probability >= 0 && s.exit_call_probability <= 1)) {
    return bad("exit_call_probability: use a fraction 0..1");
  }
  if (!(s.resched_fraction >= 0 && s.resched_fraction <= 1)) {
    return bad("resched_fraction: use a fraction 0..1");
  }
  if (s.ksmd_pause < absl::ZeroDuration() || s.stall_threshold < absl::ZeroDuration()) {
    return bad("ksmd_pause / stall_threshold must be >= 0");
  }
  if (s.ksmd_threads == 0 && !s.vcpu_exit_calls) {
    return bad("senders: no ksmd thread and vcpu_exit_calls off means nobody sends; "
               "set ksmd_threads >= 1 or vcpu_exit_calls: true");
  }
  return absl::OkStatus();
}

absl::StatusOr<HostPlaneOptions> HostPlaneOptionsFromSpec(const HostIpiSpec& s, const VmSpec& vm) {
  RETURN_IF_ERROR(ValidateHostIpiSpec(s));
  HostPlaneOptions o;
  o.vm_name = vm.name;
  o.num_vcpus = vm.vcpus;
  if (vm.vcpus + std::max(1, s.ksmd_threads) > hostipi::kMaxCpus) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hostipi: VM ", vm.name, " has ", vm.vcpus, " vCPUs + ", std::max(1, s.ksmd_threads),
        " ksmd thread(s); the host plane models at most ", hostipi::kMaxCpus,
        " CPUs per VM (lower hostipi.senders.ksmd_threads or the VM's vcpus)"));
  }
  o.model = s.kernel_model;
  o.ordering = s.ordering;
  o.store_hold = s.store_hold;
  o.ksmd_threads = s.ksmd_threads;
  o.ksmd_cpus = !s.ksmd_cpus.empty() ? s.ksmd_cpus : vm.emulator_affinity;
  o.ksmd_pause = s.ksmd_pause;
  o.vcpu_exit_calls = s.vcpu_exit_calls;
  o.exit_call_probability = s.exit_call_probability;
  o.resched_fraction = s.resched_fraction;
  o.stall_threshold = s.stall_threshold;
  o.resend_on_stall = s.resend_on_stall;
  o.seed = s.seed;
  if (s.drop_host_ipi_vcpu >= vm.vcpus) {
    return absl::InvalidArgumentError(absl::StrCat("hostipi.drop_host_ipi_vcpu = ",
                                                   s.drop_host_ipi_vcpu, ": VM ", vm.name,
                                                   " has vCPUs 0..", vm.vcpus - 1));
  }
  o.drop_host_ipi_vcpu = s.drop_host_ipi_vcpu;
  return o;
}

absl::StatusOr<std::unique_ptr<HostPlane>> HostPlane::Create(const HostPlaneOptions& o) {
  if (o.num_vcpus < 1 || o.num_vcpus + std::max(1, o.ksmd_threads) > hostipi::kMaxCpus) {
    return absl::InvalidArgumentError(
        absl::StrCat("HostPlaneOptions: ", o.num_vcpus, " vCPUs + ", o.ksmd_threads,
                     " ksmd threads; use 1..", hostipi::kMaxCpus - 1, " CPUs in all"));
  }
  if (o.ordering == hostipi::OrderingMode::kEmulatedPower &&
      (o.store_hold <= absl::ZeroDuration() || o.store_hold > absl::Seconds(1))) {
    return absl::InvalidArgumentError("HostPlaneOptions: store_hold in (0, 1s]");
  }
  if (o.ksmd_threads < 0 || !(o.exit_call_probability >= 0 && o.exit_call_probability <= 1) ||
      !(o.resched_fraction >= 0 && o.resched_fraction <= 1) || o.resched_burst < 0) {
    return absl::InvalidArgumentError(
        "HostPlaneOptions: ksmd_threads >= 0, probabilities 0..1, resched_burst >= 0");
  }
  std::unique_ptr<HostPlane> hp(new HostPlane(o));
  const int n = o.num_vcpus + std::max(1, o.ksmd_threads);
  const auto start = std::chrono::steady_clock::now();
  if (o.ordering == hostipi::OrderingMode::kEmulatedPower) {
    hostipi::ThreadStoreBufferOptions bo;
    bo.max_hold = o.store_hold;
    bo.seed = o.seed;
    ASSIGN_OR_RETURN(hp->buffers_, hostipi::ThreadStoreBuffers::Create(bo));
  }
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<CpuMemory> inner =
        hp->buffers_ ? hp->buffers_->NewCpu(i, &hp->stop_, start)
                     : hostipi::NewNativeCpuMemory(i, &hp->stop_, start);
    hp->mem_.push_back(std::make_unique<ThreadMemory>(hp.get(), std::move(inner),
                                                      o.seed * 1000003 + i));
  }
  return hp;
}

HostPlane::HostPlane(const HostPlaneOptions& options) : options_(options) {}

HostPlane::~HostPlane() {
  RequestStop();
  Join();
}

void HostPlane::Attach(vmm::Machine* machine) { machine_.store(machine, std::memory_order_release); }

std::string HostPlane::CpuName(int cpu) const {
  if (cpu < options_.num_vcpus) return absl::StrCat("vCPU ", cpu, " of VM ", options_.vm_name);
  return absl::StrCat("ksmd thread ", cpu - options_.num_vcpus, " (host, VM ", options_.vm_name,
                      ")");
}

absl::StatusOr<int64_t> HostPlane::CalibrateNs() {
  vmm::Machine* m = machine_.load(std::memory_order_acquire);
  if (m == nullptr) return absl::FailedPreconditionError("HostPlane::Start before Attach");
  // Kick round trips: Kick() -> the vCPU thread is out of KVM_RUN and in its
  // exit hook. This is the doorbell's cost on this host; the protocol adds
  // little to it. Every vCPU is kicked at once per round (as a ksmd
  // smp_call_function_many does), so an overcommitted host measures its
  // real contention and calibration takes a few rounds, not one kick after
  // another.
  const int nv = options_.num_vcpus;
  calib_seen_.reset(new std::atomic<int64_t>[nv]);
  std::vector<int64_t> samples;
  const int kRounds = std::max(4, (200 + nv - 1) / nv);
  for (int round = 0; round < kRounds && !StopRequested(); ++round) {
    for (int v = 0; v < nv; ++v) calib_seen_[v].store(0, std::memory_order_relaxed);
    calibrating_.store(true, std::memory_order_seq_cst);
    const int64_t t0 = SteadyNs();
    for (int v = 0; v < nv; ++v) m->vcpu_thread(v).Kick();
    for (int v = 0; v < nv; ++v) {
      int64_t t1 = 0;
      while ((t1 = calib_seen_[v].load(std::memory_order_acquire)) == 0) {
        if (SteadyNs() - t0 > 10'000'000'000) {
          calibrating_.store(false);
          return absl::DeadlineExceededError(absl::StrCat(
              "hostipi calibration: vCPU ", v, " of VM ", options_.vm_name,
              " did not leave KVM_RUN within 10 s of a kick; set hostipi.stall_threshold"));
        }
        if (StopRequested()) break;
        absl::SleepFor(absl::Microseconds(50));
      }
      if (t1 != 0) samples.push_back(std::max<int64_t>(1, t1 - t0));
    }
    calibrating_.store(false, std::memory_order_seq_cst);
  }
  if (samples.empty()) return absl::CancelledError("stopped while calibrating");
  std::sort(samples.begin(), samples.end());
  kick_p50_ns_ = samples[samples.size() / 2];
  kick_p99_ns_ = samples[samples.size() * 99 / 100];
  kick_max_ns_ = samples.back();
  // A csd wait is a doorbell round trip plus scheduling: 20x the p99 and 4x
  // the max kick, within [20 ms, 10 s]. The kicks went to every vCPU at
  // once, so the samples already carry the host's overcommit.
  double t = std::max(20.0 * kick_p99_ns_, 4.0 * kick_max_ns_);
  // With store buffers a csd unlock may stay invisible for up to a hold,
  // twice when the target is itself waiting on a buffered store.
  const double hold_ns =
      buffers_ ? static_cast<double>(absl::ToInt64Nanoseconds(options_.store_hold)) : 0.0;
  t = std::min(1e10, std::max(2e7, t + 2 * hold_ns));
  threshold_source_ = absl::StrFormat(
      "calibrated: %d kicks to all %d vCPUs at once, p50 %.1f us p99 %.1f us max %.1f us -> "
      "max(20 x p99, 4 x max)%s within [20 ms, 10 s]",
      static_cast<int>(samples.size()), nv, kick_p50_ns_ / 1e3, kick_p99_ns_ / 1e3,
      kick_max_ns_ / 1e3,
      buffers_ ? absl::StrFormat(" + 2 x store hold %s", absl::FormatDuration(options_.store_hold))
               : std::string());
  return static_cast<int64_t>(t);
}

absl::Status HostPlane::Start() {
  if (plane_ready_.load()) return absl::FailedPreconditionError("HostPlane::Start twice");
  vmm::Machine* m = machine_.load(std::memory_order_acquire);
  if (m == nullptr) return absl::FailedPreconditionError("HostPlane::Start before Attach");
  int64_t threshold = absl::ToInt64Nanoseconds(options_.stall_threshold);
  if (threshold <= 0) {
    ASSIGN_OR_RETURN(threshold, CalibrateNs());
    calibrated_ = true;
  } else {
    threshold_source_ = "hostipi.stall_threshold";
  }
  threshold_ns_.store(threshold);
  HostIpiPlane::Options po;
  po.num_cpus = static_cast<int>(mem_.size());
  po.model = options_.model;
  // The CPUs are real threads whatever the ordering: wall-clock time, and
  // with store buffers their contents go into the reports.
  po.mode = hostipi::OrderingMode::kNative;
  po.thread_store_buffers = buffers_ != nullptr;
  po.stall_threshold_ns = threshold;
  po.sink = [this](const StallReport& r) { return OnStall(r); };
  const int nv = options_.num_vcpus;
  po.kick = [this, nv](int cpu) {
    if (cpu >= nv) return;  // ksmd threads poll at their interrupt points
    vmm::Machine* mm = machine_.load(std::memory_order_acquire);
    if (mm != nullptr) mm->vcpu_thread(cpu).Kick();
  };
  RETURN_IF_ERROR(HostIpiPlane::Validate(po));
  plane_ = std::make_unique<HostIpiPlane>(std::move(po));
  for (auto& mem : mem_) plane_->Attach(*mem);
  started_ = absl::Now();
  if (options_.drop_host_ipi_vcpu >= 0) DropNextHostIpiSetForTest(options_.drop_host_ipi_vcpu);
  plane_ready_.store(true, std::memory_order_release);
  const int senders = sender_body_ ? 1 : options_.ksmd_threads;
  for (int k = 0; k < senders; ++k) {
    const int cpu = nv + k;
    ksmd_.emplace_back([this, cpu, k] {
      std::string name = absl::StrCat("ksmd-", options_.vm_name).substr(0, 15);
      pthread_setname_np(pthread_self(), name.c_str());
      if (!options_.ksmd_cpus.empty()) {
        // Best effort, as the profile's CPUs were checked when it was read.
        (void)PinThisThread(sender_body_ ? std::vector<int>{options_.ksmd_cpus[k % options_.ksmd_cpus.size()]}
                                         : options_.ksmd_cpus,
                            name);
      }
      if (sender_body_) {
        sender_body_(*plane_, *mem_[cpu], *this);
      } else {
        KsmdLoop(cpu);
      }
    });
  }
  return absl::OkStatus();
}

void HostPlane::KsmdLoop(int cpu) {
  ThreadMemory& mem = *mem_[cpu];
  const int nv = options_.num_vcpus;
  const uint64_t vcpus = nv >= 64 ? ~uint64_t{0} : (uint64_t{1} << nv) - 1;
  uint64_t info = static_cast<uint64_t>(cpu) << 40;
  while (!StopRequested()) {
    plane_->InterruptPoint(mem);
    if (mem.rng.Uniform() < options_.resched_fraction) {
      for (int b = 0; b < std::max(1, options_.resched_burst); ++b) {
        plane_->SendReschedule(mem, static_cast<int>(mem.rng.Below(nv)));
      }
    }
    const int64_t t0 = mem.NowNs();
    if (plane_->CallFunctionMany(mem, vcpus, hostipi::kDoNothing, ++info, true)) {
      RecordRoundTrip(mem.NowNs() - t0, false);
    }
    // ksmd sleeps between scans; doorbells meanwhile wait for the next
    // interrupt point (at most one pause).
    const absl::Time until = absl::Now() + options_.ksmd_pause;
    while (!StopRequested() && absl::Now() < until) {
      plane_->InterruptPoint(mem);
      absl::SleepFor(std::min(options_.ksmd_pause, absl::Microseconds(100)));
    }
  }
}

void HostPlane::RecordRoundTrip(int64_t ns, bool from_exit) {
  ns = std::max<int64_t>(ns, 1);
  hist_[BucketOf(ns)].fetch_add(1, std::memory_order_relaxed);
  hist_sum_.fetch_add(ns, std::memory_order_relaxed);
  AtomicMax(hist_max_, ns);
  AtomicMax(period_max_, ns);
  calls_.fetch_add(1, std::memory_order_relaxed);
  if (from_exit) exit_calls_.fetch_add(1, std::memory_order_relaxed);
}

void HostPlane::AfterExit(int vcpu, uint32_t exit_reason, bool kick_pending) {
  if (!plane_ready_.load(std::memory_order_acquire)) {
    if (kick_pending && calibrating_.load(std::memory_order_acquire) && vcpu >= 0 &&
        vcpu < options_.num_vcpus) {
      int64_t zero = 0;
      calib_seen_[vcpu].compare_exchange_strong(zero, SteadyNs(), std::memory_order_release);
    }
    return;
  }
  if (vcpu < 0 || vcpu >= options_.num_vcpus) return;
  ThreadMemory& mem = *mem_[vcpu];
  // Back from the guest: a pending doorbell is taken here, as on POWER's
  // exit path (host_ipi set -> handled, clear -> ignored).
  plane_->ExitPath(mem);
  if (exit_reason != KVM_EXIT_IO || !options_.vcpu_exit_calls || StopRequested()) return;
  // Handling a guest exit of its own (the seed's KVM page fault), with
  // interrupts on: may call the other host CPUs and wait.
  plane_->InterruptPoint(mem);
  if (mem.rng.Uniform() < options_.exit_call_probability) {
    const int n = options_.num_vcpus + options_.ksmd_threads;
    uint64_t mask = (n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1) & ~(uint64_t{1} << vcpu);
    if (mask != 0) {
      if (mem.rng.Uniform() < options_.resched_fraction) {
        int t = static_cast<int>(mem.rng.Below(n));
        if (t != vcpu) plane_->SendReschedule(mem, t);
      }
      const int64_t t0 = mem.NowNs();
      if (plane_->CallFunctionMany(mem, mask, hostipi::kFlushTlb,
                                   static_cast<uint64_t>(vcpu) << 40 | (t0 & 0xffffffffff),
                                   true)) {
        RecordRoundTrip(mem.NowNs() - t0, true);
      }
    }
  }
  plane_->InterruptPoint(mem);
}

void HostPlane::BeforeEntry(int vcpu) {
  if (!plane_ready_.load(std::memory_order_acquire)) return;
  if (vcpu < 0 || vcpu >= options_.num_vcpus) return;
  plane_->EnterGuest(*mem_[vcpu]);
}

StallAction HostPlane::OnStall(const StallReport& report) {
  StallReport r = report;
  const int nv = options_.num_vcpus;
  std::vector<std::pair<std::string, std::string>> facts;
  facts.push_back({"host plane", absl::StrCat("VM ", options_.vm_name, ", CPU#", r.waiter_cpu,
                                              " = ", CpuName(r.waiter_cpu), ", CPU#",
                                              r.target_cpu, " = ", CpuName(r.target_cpu))});
  vmm::Machine* m = machine_.load(std::memory_order_acquire);
  if (r.kind != StallReport::Kind::kUnstuck && r.target_cpu < nv && m != nullptr &&
      !StopRequested()) {
    if (plane_->InGuest(r.target_cpu)) {
      absl::StatusOr<std::string> regs = m->DescribeVcpu(r.target_cpu, options_.register_timeout);
      if (regs.ok()) {
        for (absl::string_view line : absl::StrSplit(*regs, '\n', absl::SkipEmpty())) {
          line = absl::StripLeadingAsciiWhitespace(line);
          size_t colon = line.find(':');
          if (colon == absl::string_view::npos || colon + 1 >= line.size()) {
            // "RIP 0000000000100354 SpinWorkload+0x14/0x20" -> "RIP: ..."
            size_t space = line.find(' ');
            if (space == absl::string_view::npos) {
              facts.push_back({"vCPU registers", std::string(line)});
            } else {
              facts.push_back({std::string(line.substr(0, space)),
                               std::string(absl::StripLeadingAsciiWhitespace(line.substr(space)))});
            }
          } else {
            facts.push_back({std::string(line.substr(0, colon)),
                             std::string(absl::StripLeadingAsciiWhitespace(line.substr(colon + 1)))});
          }
        }
      } else {
        facts.push_back({"vCPU registers", std::string(regs.status().message())});
      }
    } else {
      facts.push_back({"vCPU registers", "not read: the vCPU thread is in host mode (the VMM)"});
    }
  }
  r.facts.insert(r.facts.begin(), facts.begin(), facts.end());
  const bool resend = options_.resend_on_stall && r.kind != StallReport::Kind::kUnstuck &&
                      r.activity == hostipi::TargetActivity::kNothing;
  std::string text = hostipi::FormatStallReport(r);
  if (resend) {
    absl::StrAppendFormat(&text, "csd: Re-sending CSD lock (#%d) IPI from CPU#%02d to CPU#%02d\n",
                          r.number, r.waiter_cpu, r.target_cpu);
  }
  bool first_lost = false;
  {
    absl::MutexLock lock(&mu_);
    if (first_report_.empty() && r.kind != StallReport::Kind::kUnstuck) first_report_ = text;
    if (r.verdict == StallVerdict::kLost && first_lost_report_.empty() &&
        r.kind != StallReport::Kind::kUnstuck) {
      first_lost_report_ = text;
      first_lost = true;
      lost_at_ = absl::Now();
      doorbells_at_lost_ = plane_->TotalDoorbells();
    }
  }
  if (options_.events != nullptr) {
    hostipi::StallEventLine line = hostipi::StallEvent(
        r, "host", r.verdict == StallVerdict::kLost ? "lost" : "slow", text);
    line.fields["vm"] = options_.vm_name;
    line.fields["waiter_kind"] = r.waiter_cpu < nv ? "vcpu" : "ksmd";
    line.fields["target_kind"] = r.target_cpu < nv ? "vcpu" : "ksmd";
    options_.events->Emit(line.type, std::move(line.fields));
  }
  Emit(text);
  if (first_lost && options_.stop_on_lost) {
    RequestStop();
    return StallAction::kAbort;
  }
  return resend ? StallAction::kResend : StallAction::kKeepWaiting;
}

void HostPlane::Emit(const std::string& text) const {
  absl::MutexLock lock(&out_mu_);
  if (options_.out) {
    options_.out(text);
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
}

void HostPlane::RequestStop() {
  if (!stop_.exchange(true)) stopped_ns_.store(SteadyNs());
}

void HostPlane::StopSenders() {
  RequestStop();
  for (auto& t : ksmd_) {
    if (t.joinable()) t.join();
  }
  ksmd_.clear();
}

void HostPlane::Join() {
  StopSenders();
  // The vCPU threads are gone too (vmm::Machine::Shutdown came first): make the
  // last buffered stores visible and stop the drainer.
  if (buffers_) buffers_->Shutdown();
}

void HostPlane::DropNextHostIpiSetForTest(int cpu) {
  drop_host_ipi_of_.store(cpu, std::memory_order_relaxed);
}

hostipi::PlaneStats HostPlane::Stats() const {
  if (!plane_ready_.load(std::memory_order_acquire)) return {};
  return plane_->Stats();
}

HostPlaneResult HostPlane::Result() const {
  HostPlaneResult r;
  r.vm_name = options_.vm_name;
  r.kernel_model = options_.model.ToString();
  r.threshold = absl::Nanoseconds(threshold_ns_.load());
  r.threshold_calibrated = calibrated_;
  r.threshold_source = threshold_source_;
  r.stats = Stats();
  r.calls = calls_.load();
  r.exit_calls = exit_calls_.load();
  for (size_t b = 0; b < hist_.size(); ++b) {
    r.latency.counts[b] = hist_[b].load();
    r.latency.count += r.latency.counts[b];
  }
  r.latency.sum_ns = hist_sum_.load();
  r.latency.max_ns = hist_max_.load();
  r.lost = r.stats.stalls_lost;
  r.slow = r.stats.stalls_slow;
  absl::MutexLock lock(&mu_);
  r.first_lost_report = first_lost_report_;
  r.first_report = first_report_;
  if (!first_lost_report_.empty() && r.lost == 0) r.lost = 1;  // aborted at the first LOST
  const absl::Time end =
      stop_.load() ? absl::Now() - absl::Nanoseconds(SteadyNs() - stopped_ns_.load())
                   : absl::Now();
  r.seconds = started_ == absl::InfinitePast() ? 0 : absl::ToDoubleSeconds(end - started_);
  r.seconds_to_lost =
      first_lost_report_.empty() ? 0 : absl::ToDoubleSeconds(lost_at_ - started_);
  r.doorbells_to_lost = doorbells_at_lost_;
  r.kick_p50_ns = kick_p50_ns_;
  r.kick_p99_ns = kick_p99_ns_;
  r.kick_max_ns = kick_max_ns_;
  r.ordering = options_.ordering;
  if (buffers_) {
    r.store_hold = options_.store_hold;
    r.store_buffers = buffers_->GetStats();
  }
  return r;
}

void HostPlane::EmitLatencyEvent() const {
  if (options_.events == nullptr) return;
  HostPlaneResult r = Result();
  nlohmann::json buckets = nlohmann::json::array();
  for (size_t b = 0; b < r.latency.counts.size(); ++b) {
    if (r.latency.counts[b] == 0) continue;
    buckets.push_back({int64_t{1} << b, r.latency.counts[b]});
  }
  options_.events->Emit("ipi_latency", {{"plane", "host"},
                                        {"vm", options_.vm_name},
                                        {"unit", "ns"},
                                        {"buckets", buckets},
                                        {"count", r.latency.count},
                                        {"sum_ns", r.latency.sum_ns},
                                        {"max_ns", r.latency.max_ns}});
}

std::string HostPlane::FormatStatsLine() const {
  HostPlaneResult r = Result();
  const auto& s = r.stats;
  return absl::StrFormat(
      "hostipi: VM %s model %s: doorbells sent %d taken %d (in guest %d, in host %d) ignored %d "
      "| csd calls %d (%d from exits), csds run %d, round trip p50 <= %.1f us, max wait %.3f ms | stalls "
      "lost %d slow %d | threshold %s\n",
      r.vm_name, r.kernel_model, s.doorbells_sent,
      s.doorbells_taken_in_guest + s.doorbells_taken_in_host, s.doorbells_taken_in_guest,
      s.doorbells_taken_in_host, s.doorbells_ignored, r.calls, r.exit_calls, s.csds_run,
      r.latency.ApproxQuantile(0.5) / 1e3, s.max_wait_ns / 1e6, r.lost, r.slow,
      absl::FormatDuration(r.threshold));
}

}  // namespace hostplane
}  // namespace kvmbed
