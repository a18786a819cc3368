// offline-csd-flush (8d056c48e486): the VMM side. It takes the target vCPU
// offline and back on a fixed period (scftorture's onoff_interval, from
// its own thread), prints the kernel's "IPI on offline CPU %d" warning when
// the guest reports one, and turns the callers' csd_lock_wait reports into
// a verdict: LOST when the csd waits in the call_single_queue of a CPU that
// went through CPU_DYING with it queued (nothing will run it: its IPI was
// taken, and ignored, while the CPU was dead), SLOW otherwise.
#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/enum_names.h"
#include "base/status_macros.h"
#include "guest/abi.h"
#include "scenarios/guest_scenario.h"
#include "scenarios/guest_scenario_internal.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace scenarios {
namespace {

using namespace repro_internal;

// Messages from vCPU threads, drained by the owner thread.
// Threading: Push from any vCPU thread, Drain from the owner.
class ReportQueue {
 public:
  void Push(const abi::Message& m) {
    absl::MutexLock l(&mu_);
    q_.push_back(m);
  }
  std::deque<abi::Message> Drain() {
    absl::MutexLock l(&mu_);
    std::deque<abi::Message> out;
    out.swap(q_);
    return out;
  }

 private:
  absl::Mutex mu_;
  std::deque<abi::Message> q_ ABSL_GUARDED_BY(mu_);
};

// scftorture's onoff kthread, in the VMM: offline for `offline`, online for
// `online`, until destroyed. Threading: owns one thread; the destructor
// stops and joins it.
class OnOffDriver {
 public:
  OnOffDriver(volatile uint32_t* request, absl::Duration offline, absl::Duration online)
      : request_(request), offline_(offline), online_(online), thread_([this] { Loop(); }) {}
  ~OnOffDriver() {
    stop_.Notify();
    thread_.join();
    __atomic_store_n(request_, abi::kHpOnline, __ATOMIC_SEQ_CST);
  }
  int64_t requests() const { return requests_.load(std::memory_order_relaxed); }

 private:
  void Loop() {
    for (;;) {
      if (stop_.WaitForNotificationWithTimeout(online_)) return;
      __atomic_store_n(request_, abi::kHpDead, __ATOMIC_SEQ_CST);
      requests_.fetch_add(1, std::memory_order_relaxed);
      if (stop_.WaitForNotificationWithTimeout(offline_)) return;
      __atomic_store_n(request_, abi::kHpOnline, __ATOMIC_SEQ_CST);
    }
  }
  volatile uint32_t* request_;
  const absl::Duration offline_, online_;
  absl::Notification stop_;
  std::atomic<int64_t> requests_{0};
  std::thread thread_;  // last: starts after the members it uses
};

constexpr auto kHpStateNames = MakeEnumNames<uint32_t>(
    {{abi::kHpOnline, "online"}, {abi::kHpGoingDown, "going down (stop_machine, interrupts off)"},
     {abi::kHpDying, "dying (marked offline, CPU_DYING)"}, {abi::kHpDead, "OFFLINE (dead, parked)"},
     {abi::kHpComingUp, "coming up"}});

const char* HpStateName(uint32_t s) { return kHpStateNames.Name(s); }

absl::StatusOr<ReproductionPhase> RunPhase(const PhaseSetup& ps, bool flush,
                                           const GuestReproOptions& o,
                                           std::vector<std::string>* notes) {
  ReproductionPhase phase;
  phase.ran = true;
  phase.kernel_model = flush ? "flush at CPU_DYING" : "no flush";
  abi::ReproParams params = ps.params;
  params.hp_flush = flush ? 1 : 0;
  const VmSpec& vm = ps.run->vms[0];
  const ReproduceSpec& rs = ps.run->reproduce;
  const int target = static_cast<int>(params.hp_target);
  Emit(o, absl::StrFormat("offline-csd-flush: %s model: %d vCPUs, vCPU#%d offline %s / online %s "
                          "per cycle, csd threshold %s, budget %s\n",
                          phase.kernel_model, vm.vcpus, target,
                          absl::FormatDuration(rs.offline.offline), absl::FormatDuration(rs.offline.online),
                          absl::FormatDuration(ps.threshold), absl::FormatDuration(ps.budget)));
  auto reports = std::make_shared<ReportQueue>();
  vmm::MachineOptions mo;
  mo.on_report = [reports](vmm::Vcpu&, const abi::Message& m) -> absl::StatusOr<bool> {
    reports->Push(m);
    return true;
  };
  ASSIGN_OR_RETURN(std::unique_ptr<vmm::Machine> m,
                   BootReproVm(vm, abi::kWorkloadHotplug, params, ps.threshold, ps.seed, mo));
  ASSIGN_OR_RETURN(abi::BootParams bp, m->memory().ReadAs<abi::BootParams>(abi::kBootParamsGpa));
  const double khz = bp.tsc_khz ? static_cast<double>(bp.tsc_khz) : 1e6;
  auto us = [khz](uint64_t cycles) { return static_cast<double>(cycles) * 1000.0 / khz; };
  ASSIGN_OR_RETURN(abi::HotplugShared * live,
                   m->memory().TranslateAs<abi::HotplugShared>(abi::kReproSharedGpa));
  const absl::Time start = absl::Now();
  auto driver = std::make_unique<OnOffDriver>(&live->request, rs.offline.offline, rs.offline.online);
  absl::Status st;
  abi::HotplugShared hp{};
  int64_t offline_ipis_seen = 0;
  std::string first_warning;
  // Reported, not yet unstuck stalls: bug id and when reported.
  std::vector<std::pair<int, absl::Time>> open_stalls;
  for (;;) {
    st = m->Run(absl::Milliseconds(20));
    if (!st.ok()) break;
    const absl::Time now = absl::Now();
    ASSIGN_OR_RETURN(hp, m->memory().ReadAs<abi::HotplugShared>(abi::kReproSharedGpa));
    phase.operations = static_cast<int64_t>(hp.late_csds);
    for (const abi::Message& msg : reports->Drain()) {
      if (msg.code == abi::kReportOfflineIpi) {
        ++offline_ipis_seen;
        const int ncsd = static_cast<int>(msg.args[1]);
        // The kernel WARNs once; print the first, and the first with callbacks.
        if (offline_ipis_seen > 1 && (ncsd == 0 || !first_warning.empty())) continue;
        std::string w = absl::StrFormat(
            "WARNING: CPU: %d at kernel/smp.c generic_smp_call_function_single_interrupt\n"
            "IPI on offline CPU %d\n",
            msg.args[0], msg.args[0]);
        for (int i = 0; i < std::min(ncsd, 8); ++i) {
          absl::StrAppendFormat(&w, "IPI callback %s sent to offline CPU\n",
                                m->elf().Symbolize(msg.args[2 + i]));
        }
        absl::StrAppendFormat(&w,
                              "\t(%d csd(s) in its call_single_queue; a dead CPU runs none: "
                              "left queued)\n",
                              ncsd);
        if (ncsd > 0) first_warning = w;
        Emit(o, w);
        continue;
      }
      if (msg.code == abi::kReportCsdUnstuck) {
        const int id = static_cast<int>(msg.args[abi::kCsdArgBugId]);
        auto it = std::find_if(open_stalls.begin(), open_stalls.end(),
                               [id](const std::pair<int, absl::Time>& p) { return p.first == id; });
        if (it != open_stalls.end()) open_stalls.erase(it);
        continue;
      }
      if (msg.code != abi::kReportCsdStall || msg.args[abi::kCsdArgContinued] || phase.hung) {
        continue;
      }
      // A new csd stall: read the target's side and decide LOST or SLOW.
      const int waiter = static_cast<int>(msg.args[abi::kCsdArgWaiter]);
      const int dst = static_cast<int>(msg.args[abi::kCsdArgTarget]);
      const uint64_t csd_gpa = msg.args[abi::kCsdArgCsd];
      ASSIGN_OR_RETURN(abi::SmpStatus ts, m->memory().ReadAs<abi::SmpStatus>(abi::SmpStatusGpa(
                                              static_cast<uint32_t>(dst))));
      ASSIGN_OR_RETURN(abi::Csd csd, m->memory().ReadAs<abi::Csd>(csd_gpa));
      ASSIGN_OR_RETURN(hp, m->memory().ReadAs<abi::HotplugShared>(abi::kReproSharedGpa));
      int queued = 0;
      bool in_queue = false;
      bool stale_in_queue = false;  // a locked csd that went through a CPU_DYING queued
      for (uint64_t p = ts.queue; p != 0 && queued < 4096; ++queued) {
        if (p == csd_gpa) in_queue = true;
        absl::StatusOr<abi::Csd> c = m->memory().ReadAs<abi::Csd>(p);
        if (!c.ok()) break;
        if ((c->flags & abi::kCsdLock) && hp.dying_tsc != 0 && c->queued_tsc < hp.dying_tsc) {
          stale_in_queue = true;
        }
        p = c->next;
      }
      const bool running = ts.cur_csd == csd_gpa;
      const bool survived_dying = hp.dying_tsc != 0 && csd.queued_tsc < hp.dying_tsc;
      // Lost: it went through CPU_DYING in the queue, or it waits behind
      // one that did (it was queued on a non-empty queue: no IPI of its own).
      const bool lost = dst == target && in_queue && !running && (csd.flags & abi::kCsdLock) &&
                        (survived_dying || stale_in_queue);
      std::string r = absl::StrFormat(
          "csd: Detected non-responsive CSD lock (#%d) on CPU#%d, waiting %d ns for CPU#%02d "
          "%s(0x%x).\n",
          msg.args[abi::kCsdArgBugId], waiter, msg.args[abi::kCsdArgWaitNs], dst,
          m->elf().Symbolize(msg.args[abi::kCsdArgFunc]), msg.args[abi::kCsdArgInfo]);
      absl::StrAppendFormat(&r, "\tcsd: CPU#%02d is handling %s.\n", dst,
                            ts.cur_csd == 0 ? "no request" : running ? "this request"
                                                                     : "a prior request");
      absl::StrAppendFormat(&r, "\ttarget vCPU#%d: %s; %d offline/online cycles so far\n", dst,
                            dst == target ? HpStateName(hp.state) : "online (not the hotplug target)",
                            hp.cycles);
      absl::StrAppendFormat(&r, "\tcall_single_queue of CPU#%02d: %d csd(s) queued; this csd is %s\n",
                            dst, queued, in_queue ? "in it" : "NOT in it");
      if (dst == target && hp.unflushed_csd != 0) {
        absl::StrAppendFormat(
            &r,
            "\tCPU_DYING of offline cycle %d left %d csd(s) in the queue (flush at CPU_DYING: "
            "%s): queued as the caller entered stop_machine, their IPI delivered after the CPU "
            "disabled interrupts (late), %.1f us before it marked itself offline\n",
            hp.unflushed_cycle, hp.unflushed_count, flush ? "on" : "OFF",
            us(hp.unflushed_dying_tsc - hp.unflushed_down_tsc));
      }
      if (offline_ipis_seen > 0) {
        absl::StrAppendFormat(&r,
                              "\t\"IPI on offline CPU %d\" seen %d time(s): the late IPI was "
                              "taken while the CPU was dead and ignored; no IPI will come again "
                              "(the caller waits in csd_lock for this very csd, and a csd "
                              "queued behind it would send none: the queue is not empty)\n",
                              target, offline_ipis_seen);
      }
      absl::StrAppend(&r, "\ttarget ", RipOf(*m, dst), "\n\twaiter ", RipOf(*m, waiter), "\n");
      if (lost) {
        absl::StrAppendFormat(
            &r,
            "\tverdict: LOST (seed 8d056c48e486) - the csd waits in the call_single_queue of "
            "CPU#%02d, which went offline with %s queued and did not flush it at CPU_DYING; "
            "nothing will ever run it, so CPU#%d waits forever\n",
            dst, survived_dying ? "it" : "an older csd (this one queued behind it, no IPI)",
            waiter);
        phase.hung = true;
        phase.hangs = 1;
        phase.seconds_to_hang = absl::ToDoubleSeconds(now - start);
        phase.operations_to_hang = phase.operations;
        Emit(o, r);
        phase.report = first_warning + r;
      } else {
        absl::StrAppend(&r, "\tverdict: SLOW - no lost-csd evidence (yet); still watching\n");
        ++phase.slow;
        open_stalls.emplace_back(static_cast<int>(msg.args[abi::kCsdArgBugId]), now);
        Emit(o, r);
      }
    }
    if (phase.hung) break;
    if (now - start >= ps.budget) break;
    if (ps.max_ops > 0 && phase.operations >= ps.max_ops) break;
  }
  const int64_t requests = driver->requests();
  driver.reset();
  phase.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  vmm::VmSummary summary = m->Shutdown();
  if (!st.ok()) return st;
  if (!summary.error.ok()) return summary.error;
  if (!phase.hung) {
    // Reported, still open at the end for 3 more thresholds, not proven
    // lost: a hang all the same. Younger ones stay SLOW (the run ended
    // during the wait).
    const absl::Time end = absl::Now();
    for (const auto& [id, when] : open_stalls) {
      if (end - when >= 3 * ps.threshold) {
        ++phase.hangs;
        --phase.slow;
      }
    }
  }
  std::string line = absl::StrFormat(
      "%s model: %s after %.3f s: %d offline/online cycles (%d requested), %d late csds (IPI "
      "delivered after the target disabled interrupts), %d flushed at CPU_DYING, %d async calls, "
      "%d \"IPI on offline CPU\" warnings",
      phase.kernel_model, phase.hung ? "HUNG" : phase.hangs ? "STUCK" : "clean", phase.seconds,
      hp.cycles, requests, hp.late_csds, hp.dying_flushed, hp.calls, offline_ipis_seen);
  notes->push_back(line);
  Emit(o, absl::StrCat("offline-csd-flush: ", line, "\n"));
  return phase;
}

}  // namespace

absl::StatusOr<Reproduction> ReproduceOfflineCsdFlush(const ScenarioProfile& run,
                                                      const GuestReproOptions& o) {
  RETURN_IF_ERROR(CheckRun(run, "offline-csd-flush", 2));
  const ReproduceSpec& rs = run.reproduce;
  if (rs.offline.target >= run.vms[0].vcpus) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: reproduce.offline.target: vCPU %d does not exist (vcpus: %d)",
                        run.source, rs.offline.target, run.vms[0].vcpus));
  }
  Reproduction rep = NewReproduction("offline-csd-flush", "late csds");
  std::string how;
  ASSIGN_OR_RETURN(absl::Duration threshold, Threshold(run, &how));
  PhaseSetup ps;
  ps.run = &run;
  ps.threshold = threshold;
  ps.seed = SeedOf(run, o);
  ps.params = abi::ReproParams{};
  ps.params.hp_target = static_cast<uint32_t>(rs.offline.target);
  ps.params.hp_dying_window_ns =
      static_cast<uint64_t>(absl::ToInt64Nanoseconds(rs.offline.dying_window));
  ps.params.hp_tick_ns = static_cast<uint64_t>(absl::ToInt64Nanoseconds(rs.offline.tick));
  rep.notes.push_back(absl::StrFormat(
      "%d vCPUs; vCPU#%d goes offline for %s every %s, the others call it "
      "(smp_call_function_single, async); the lowest caller queues one last csd as it enters "
      "stop_machine, whose IPI arrives after the target disabled interrupts; csd threshold %s "
      "(%s); seed %d",
      run.vms[0].vcpus, rs.offline.target, absl::FormatDuration(rs.offline.offline),
      absl::FormatDuration(rs.offline.offline + rs.offline.online), absl::FormatDuration(threshold), how,
      ps.seed));
  if (o.run_buggy) {
    ps.budget = rs.buggy_budget;
    ps.max_ops = 0;
    ASSIGN_OR_RETURN(rep.buggy, RunPhase(ps, /*flush=*/false, o, &rep.notes));
  }
  if (o.run_fixed) {
    ps.budget = rs.fixed_budget;
    ps.max_ops = rs.fixed_operations;
    ASSIGN_OR_RETURN(rep.fixed, RunPhase(ps, /*flush=*/true, o, &rep.notes));
  }
  return rep;
}

const Scenario& OfflineCsdFlushScenario() {
  static const GuestScenario* s = new GuestScenario(
      "offline-csd-flush", "8d056c48e486",
      "a call-function IPI arrives after its target went offline: the csd stays in the dead "
      "CPU's call_single_queue and the caller waits in csd_lock_wait forever",
      "flush call_single_queue at CPU_DYING (flush_smp_call_function_queue)",
      &ReproduceOfflineCsdFlush);
  return *s;
}

}  // namespace scenarios
}  // namespace kvmbed
