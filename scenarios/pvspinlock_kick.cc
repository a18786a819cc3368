// pvspinlock-kick (76eaca031f0a): the VMM side. The guest (guest/pvspinlock.cc)
// runs Xen-style PV spinlocks; this watches PvLockShared and detects the
// deadlock the way the kernel would notice it: a waiter that polls (halted)
// past the threshold although the lock was released meanwhile or is free,
// (unlocks are counted after their kicks) and no unlock kicked it, with no
// vCPU between its release and its last kick at that moment (a kicked
// waiter whose vCPU thread has not run yet is SLOW, not a hang), and a vCPU
// stuck in an interrupt handler (soft lockup). The report says
// who waits on what, who got the kick and why the others never woke.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

std::string MaskText(uint64_t mask) {
  std::string s;
  for (int c = 0; c < 64; ++c) {
    if (mask & (1ull << c)) absl::StrAppend(&s, s.empty() ? "" : ",", "vCPU#", c);
  }
  return s.empty() ? "none" : s;
}

constexpr auto kStateNames = MakeEnumNames<uint32_t>(
    {{abi::kPvRunning, "running"}, {abi::kPvSpinning, "spinning (fast path)"},
     {abi::kPvPolling, "polling (halted in the slow path)"}, {abi::kPvHolding, "holding the lock"},
     {abi::kPvInIrq, "in the io interrupt handler"}});

const char* StateName(uint32_t s) { return kStateNames.Name(s); }

// What the VMM saw of one vCPU across polls (host time; no guest TSC).
struct Watch {
  // Heartbeat (VcpuStatus, bumped once per lock loop turn).
  uint64_t heartbeat = 0;
  absl::Time beat_since;
  // Polling episode: keyed by slow_waits while state == polling.
  bool polling = false;
  uint64_t poll_key = 0;
  absl::Time poll_since;
  uint64_t unlocks_at_poll = 0;
  uint64_t kicks_sent_at_poll = 0;
  bool slow_counted = false;  // this episode already counted as SLOW
  // Interrupt episode: keyed by irqs while state == in irq.
  bool in_irq = false;
  uint64_t irq_key = 0;
  absl::Time irq_since;
};

absl::StatusOr<ReproductionPhase> RunPhase(const PhaseSetup& ps, bool kick_all,
                                           const GuestReproOptions& o,
                                           std::vector<std::string>* notes,
                                           uint64_t* critical) {
  ReproductionPhase phase;
  phase.ran = true;
  phase.kernel_model = kick_all ? "kick=all" : "kick=first";
  abi::ReproParams params = ps.params;
  params.pv_kick = kick_all ? abi::kPvKickAll : abi::kPvKickFirst;
  const VmSpec& vm = ps.run->vms[0];
  const int n = vm.vcpus;
  Emit(o, absl::StrFormat("pvspinlock-kick: %s model: %d vCPUs (holder vCPU#%d, irq vCPU#%d, task "
                          "vCPU#%d), threshold %s, budget %s\n",
                          phase.kernel_model, n, params.pv_holder, params.pv_irq_vcpu,
                          params.pv_task_vcpu, absl::FormatDuration(ps.threshold),
                          absl::FormatDuration(ps.budget)));
  ASSIGN_OR_RETURN(std::unique_ptr<vmm::Machine> m,
                   BootReproVm(vm, abi::kWorkloadPvSpinlock, params, ps.threshold, ps.seed, {}));
  const absl::Time start = absl::Now();
  std::vector<Watch> watch(n);
  const absl::Duration poll = std::min(absl::Milliseconds(20), ps.threshold / 4);
  absl::Status st;
  abi::PvLockShared pv{};
  absl::Time first_detect = absl::InfiniteFuture();
  for (;;) {
    st = m->Run(poll);
    if (!st.ok()) break;
    const absl::Time now = absl::Now();
    ASSIGN_OR_RETURN(pv, m->memory().ReadAs<abi::PvLockShared>(abi::kReproSharedGpa));
    phase.operations = static_cast<int64_t>(pv.unlocks);
    int hung_waiter = -1;
    bool someone_unlocking = false;  // between its release and its last kick
    for (int c = 0; c < n; ++c) someone_unlocking |= pv.cpu[c].unlocking != 0;
    for (int c = 0; c < n; ++c) {
      const abi::PvCpu& pc = pv.cpu[c];
      Watch& w = watch[c];
      const uint64_t beat = m->StatusOf(c).heartbeat;
      if (beat != w.heartbeat || w.beat_since == absl::Time()) {
        w.heartbeat = beat;
        w.beat_since = now;
      }
      const bool polling = pc.waiting && pc.state == abi::kPvPolling;
      if (!polling || !w.polling || w.poll_key != pc.slow_waits) {
        w.polling = polling;
        w.poll_key = pc.slow_waits;
        w.poll_since = now;
        w.unlocks_at_poll = pv.unlocks;
        w.kicks_sent_at_poll = pc.kicks_sent;
        w.slow_counted = false;
      }
      const bool in_irq = pc.state == abi::kPvInIrq;
      if (!in_irq || !w.in_irq || w.irq_key != pc.irqs) {
        w.in_irq = in_irq;
        w.irq_key = pc.irqs;
        w.irq_since = now;
      }
      // A lost wake-up: still polling past the threshold although the lock
      // was released since it began to poll, or is free now.
      if (w.polling && now - w.poll_since >= ps.threshold &&
          (pv.unlocks > w.unlocks_at_poll || pv.lock == 0)) {
        if (pc.kicks_sent != w.kicks_sent_at_poll) {
          // Kicked but not yet running (the host did not schedule its
          // vCPU thread): slow, not lost.
          if (!w.slow_counted) ++phase.slow;
          w.slow_counted = true;
        } else if (hung_waiter < 0 && !someone_unlocking) {
          hung_waiter = c;
        }
      }
    }
    if (hung_waiter >= 0) {
      // Give a vCPU stuck in the io interrupt handler the time to pass the
      // soft-lockup threshold too (at most one more threshold), so the
      // report has both sides of the deadlock.
      if (first_detect == absl::InfiniteFuture()) first_detect = now;
      bool young_irq = false;
      for (int c = 0; c < n; ++c) {
        young_irq |= pv.cpu[c].state == abi::kPvInIrq && now - watch[c].beat_since < ps.threshold;
      }
      if (young_irq && now - first_detect < ps.threshold) hung_waiter = -1;
    }
    if (hung_waiter >= 0) {
      phase.hung = true;
      phase.hangs = 1;
      phase.seconds_to_hang = absl::ToDoubleSeconds(now - start);
      // The deadlock began when the stuck waiter started to poll; it was
      // detected a threshold later (the holder keeps cycling the lock).
      phase.operations_to_hang = static_cast<int64_t>(watch[hung_waiter].unlocks_at_poll);
      // The report, from what the guest recorded and the VMM saw.
      const Watch& hw = watch[hung_waiter];
      std::string r = absl::StrFormat(
          "pvspinlock: BUG: vCPU#%d waits for the lock (halted in xen_poll_irq) for %.3fs, "
          "while the lock was released %d times and is %s now: lost unlock kick\n",
          hung_waiter, absl::ToDoubleSeconds(now - hw.poll_since),
          pv.unlocks - hw.unlocks_at_poll, pv.lock ? "held" : "FREE");
      absl::StrAppendFormat(
          &r,
          "\tlock: %s (owner %s); %d acquisitions, %d unlocks, %d slow unlocks (waiters "
          "kicked), %d with a waiter in a nested interrupt while another polled\n",
          pv.lock ? "held" : "free", pv.owner ? absl::StrCat("vCPU#", pv.owner - 1) : "none",
          pv.acquisitions, pv.unlocks, pv.slow_unlocks, pv.critical);
      absl::StrAppendFormat(
          &r,
          "\tlast slow unlock: #%d by vCPU#%d: waiters %s; kicked %s (%s)\n", pv.last_unlock_seq,
          pv.last_unlocker, MaskText(pv.last_waiters), MaskText(pv.last_kicked),
          kick_all ? "kick=all: every waiter"
                   : "kick=first: xen_spin_unlock_slow kicks only the first waiter in CPU order");
      uint64_t stuck_irq_mask = 0;
      for (int c = 0; c < n; ++c) {
        const abi::PvCpu& pc = pv.cpu[c];
        const Watch& w = watch[c];
        if (!pc.waiting && pc.state != abi::kPvInIrq) continue;
        std::string role = c == static_cast<int>(params.pv_irq_vcpu)    ? " (CPU n-#: takes io interrupts)"
                           : c == static_cast<int>(params.pv_task_vcpu) ? " (CPU n: runs task x)"
                           : c == static_cast<int>(params.pv_holder)    ? " (holder)"
                                                                        : "";
        absl::StrAppendFormat(&r, "\tvCPU#%d%s: %s, %s", c, role,
                              pc.waiting ? "registered waiter on the lock" : "not waiting",
                              StateName(pc.state));
        if (pc.state == abi::kPvInIrq) {
          absl::StrAppendFormat(
              &r,
              " for %.3fs, entered from %s; its handler try_to_wake_up(task x) spins until "
              "task x leaves vCPU#%d (on_cpu=%d); kick flag %s, kicks sent to it %d, taken "
              "%d: the kick cannot end a handler that is busy\n",
              absl::ToDoubleSeconds(now - w.irq_since), StateName(pc.irq_from),
              params.pv_task_vcpu, pv.on_cpu, pc.kick_pending ? "SET" : "clear", pc.kicks_sent,
              pc.kicks_taken);
          if (pc.irq_from == abi::kPvPolling) stuck_irq_mask |= 1ull << c;
        } else if (w.polling) {
          absl::StrAppendFormat(
              &r,
              " for %.3fs; kicks sent to it since it began to poll: %d (kick flag %s): nothing "
              "will wake it\n",
              absl::ToDoubleSeconds(now - w.poll_since), pc.kicks_sent - w.kicks_sent_at_poll,
              pc.kick_pending ? "set" : "clear");
        } else {
          r += "\n";
        }
        absl::StrAppendFormat(&r, "\t  heartbeat unchanged for %.3fs; %s%s\n",
                              absl::ToDoubleSeconds(now - w.beat_since), RipOf(*m, c),
                              pc.state == abi::kPvPolling
                                  ? " (the poll's hlt, trapped from ring 3 and run there)"
                                  : "");
      }
      for (int c = 0; c < n; ++c) {
        if (pv.cpu[c].state == abi::kPvInIrq && now - watch[c].beat_since >= ps.threshold) {
          absl::StrAppendFormat(&r,
                                "watchdog: BUG: soft lockup - vCPU#%d stuck for %.3fs! "
                                "[pv_io_irq -> pv_try_to_wake_up]\n",
                                c, absl::ToDoubleSeconds(now - watch[c].beat_since));
        }
      }
      const bool seed_shape = (stuck_irq_mask & pv.last_kicked) &&
                              !(pv.last_kicked & (1ull << hung_waiter)) && pv.on_cpu;
      if (seed_shape) {
        absl::StrAppendFormat(
            &r,
            "\tverdict: DEADLOCK (seed 76eaca031f0a) - the lock keeps being released, but every "
            "kick goes to the first waiter, %s, which is stuck in a nested interrupt waiting "
            "for task x on vCPU#%d; vCPU#%d polls for a kick that never comes, so task x "
            "never leaves its CPU and the handler never returns\n",
            MaskText(pv.last_kicked), params.pv_task_vcpu, hung_waiter);
      } else {
        absl::StrAppendFormat(&r,
                              "\tverdict: HANG - vCPU#%d missed its wake-up (not the seed's "
                              "shape: see the vCPUs above)\n",
                              hung_waiter);
      }
      absl::StrAppendFormat(&r,
                            "\tthe deadlock began %.3f s into the run (unlock #%d); detected "
                            "%.3f s later (threshold %s)\n",
                            absl::ToDoubleSeconds(hw.poll_since - start), hw.unlocks_at_poll,
                            absl::ToDoubleSeconds(now - hw.poll_since),
                            absl::FormatDuration(ps.threshold));
      phase.report = r;
      Emit(o, r);
      break;
    }
    if (now - start >= ps.budget) break;
    if (ps.max_ops > 0 && phase.operations >= ps.max_ops) break;
  }
  phase.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  vmm::VmSummary summary = m->Shutdown();
  if (!st.ok()) return st;
  if (!summary.error.ok()) return summary.error;
  std::string line = absl::StrFormat(
      "%s model: %s after %.3f s: %d unlocks, %d slow (waiters kicked), %d critical (a waiter "
      "in a nested io interrupt taken while polling, another polling: the seed's "
      "interleaving), %d io interrupts raised",
      phase.kernel_model, phase.hung ? "HUNG" : "clean", phase.seconds, pv.unlocks,
      pv.slow_unlocks, pv.critical, pv.irqs_raised);
  notes->push_back(line);
  *critical = pv.critical;
  Emit(o, absl::StrCat("pvspinlock-kick: ", line, "\n"));
  return phase;
}

}  // namespace

absl::StatusOr<Reproduction> ReproducePvSpinlockKick(const ScenarioProfile& run,
                                                     const GuestReproOptions& o) {
  RETURN_IF_ERROR(CheckRun(run, "pvspinlock-kick", 3));
  const ReproduceSpec& rs = run.reproduce;
  const int n = run.vms[0].vcpus;
  if (std::max({rs.pvspinlock.holder, rs.pvspinlock.irq_vcpu, rs.pvspinlock.task_vcpu}) >= n ||
      rs.pvspinlock.holder == rs.pvspinlock.irq_vcpu || rs.pvspinlock.holder == rs.pvspinlock.task_vcpu ||
      rs.pvspinlock.irq_vcpu >= rs.pvspinlock.task_vcpu) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: reproduce.pvspinlock: holder %d, irq_vcpu %d, task_vcpu %d must be different "
        "vCPUs below %d with irq_vcpu < task_vcpu",
        run.source, rs.pvspinlock.holder, rs.pvspinlock.irq_vcpu, rs.pvspinlock.task_vcpu, n));
  }
  Reproduction rep = NewReproduction("pvspinlock-kick", "unlocks");
  std::string how;
  ASSIGN_OR_RETURN(absl::Duration threshold, Threshold(run, &how));
  PhaseSetup ps;
  ps.run = &run;
  ps.threshold = threshold;
  ps.seed = SeedOf(run, o);
  ps.params = abi::ReproParams{};
  ps.params.pv_spin_loops = static_cast<uint32_t>(rs.pvspinlock.spin_loops);
  ps.params.pv_holder = static_cast<uint32_t>(rs.pvspinlock.holder);
  ps.params.pv_irq_vcpu = static_cast<uint32_t>(rs.pvspinlock.irq_vcpu);
  ps.params.pv_task_vcpu = static_cast<uint32_t>(rs.pvspinlock.task_vcpu);
  ps.params.pv_irq_ppm = static_cast<uint32_t>(rs.pvspinlock.irq_fraction * 1e6);
  ps.params.pv_hold_ns = static_cast<uint64_t>(absl::ToInt64Nanoseconds(rs.pvspinlock.hold));
  ps.params.pv_think_ns = static_cast<uint64_t>(absl::ToInt64Nanoseconds(rs.pvspinlock.think));
  rep.notes.push_back(absl::StrFormat(
      "%d vCPUs; holder vCPU#%d holds %s and raises the io interrupt on vCPU#%d in %.0f%% of its "
      "rounds; spin %d attempts before polling; threshold %s (%s); seed %d",
      n, rs.pvspinlock.holder, absl::FormatDuration(rs.pvspinlock.hold), rs.pvspinlock.irq_vcpu,
      rs.pvspinlock.irq_fraction * 100, rs.pvspinlock.spin_loops, absl::FormatDuration(threshold), how,
      ps.seed));
  if (o.run_buggy) {
    ps.budget = rs.buggy_budget;
    ps.max_ops = 0;
    uint64_t critical = 0;
    ASSIGN_OR_RETURN(rep.buggy, RunPhase(ps, /*kick_all=*/false, o, &rep.notes, &critical));
  }
  if (o.run_fixed) {
    ps.budget = rs.fixed_budget;
    ps.max_ops = rs.fixed_operations;
    uint64_t critical = 0;
    ASSIGN_OR_RETURN(rep.fixed, RunPhase(ps, /*kick_all=*/true, o, &rep.notes, &critical));
    if (rep.fixed.hangs == 0 && critical > 0) {
      rep.notes.push_back(absl::StrFormat(
          "kick=all went through the seed's interleaving %d times without a hang: p < 3/%d = "
          "%.3g per occurrence",
          critical, critical, 3.0 / static_cast<double>(critical)));
    }
  }
  return rep;
}

const Scenario& PvSpinlockKickScenario() {
  static const GuestScenario* s = new GuestScenario(
      "pvspinlock-kick", "76eaca031f0a",
      "Xen PV spinlock unlock kicks only the first waiter; it is busy in a nested interrupt "
      "that needs another waiter's CPU, which polls forever: deadlock",
      "xen_spin_unlock_slow kicks every waiter (\"xen: Send spinlock IPI to all waiters\")",
      &ReproducePvSpinlockKick);
  return *s;
}

}  // namespace scenarios
}  // namespace kvmbed
