// `kvmbed reproduce muxed-ipi-wakelist` (alias 9fb1b36ca1, seed 000): a
// woken task stuck in TASK_WAKING because the update of rq->wake_list is not
// ordered with the muxed IPI message (powerpc smp_muxed_ipi_message_pass /
// smp_ipi_demux, 2012).
//
// The modelled path, every CPU both a waker and a target:
//   waker   try_to_wake_up(p): p->state = TASK_WAKING; ttwu_queue_remote():
//           llist_add(&p->wake_entry, &rq(t)->wake_list) (cmpxchg: lwsync,
//           then the stwcx.); if the list was empty smp_send_reschedule(t) =
//           smp_muxed_ipi_message_pass(t, RESCHEDULE):
//             [smp_mb() if message-pass-mb]; message[RESCHEDULE] = 1;
//             [smp_mb() if cause-ipi-mb]; cause_ipi(t) (the doorbell).
//           Then it watches p like the hung-task detector: a task not running
//           `threshold` after its wake-up is reported.
//   target  the IPI: smp_ipi_demux(): mb(); do { all = xchg(messages, 0)
//           (xchg_local before 9fb1b36); RESCHEDULE -> scheduler_ipi():
//           if (llist_empty(&rq->wake_list)) return (a plain load);
//           sched_ttwu_pending(): llist_del_all (xchg), wake each task }
//           while (messages).
// The stall: the receiver's demux loop takes a RESCHEDULE whose wake_list
// entry it cannot see yet (the sender's stwcx. reaches it after the message
// store, or its own plain load of the list is satisfied early), concludes
// there is nothing to do, and the IPI the waker sends next finds no message.
// The entry stays queued; later wakers see a non-empty list and send no IPI,
// so the task (and every task queued behind it) stays in TASK_WAKING.
//
// Emulated-power only: every reordering it needs (store->store on the
// sender, load->load on the receiver, the message store passing the IPI) is
// forbidden on x86-TSO, so native mode is an error that says so.
//
// Threading: ReproduceMuxedIpiWakelist() and RunWakelistPhase() block the
// caller and run the modelled CPUs as coroutines on the calling thread.
#ifndef KVMBED_HOSTIPI_WAKELIST_H_
#define KVMBED_HOSTIPI_WAKELIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/reproduction.h"
#include "hostipi/kernel_model.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {

struct WakelistOptions {
  // kEmulatedPower only (native: an error explaining why x86 cannot).
  OrderingMode mode = OrderingMode::kEmulatedPower;
  int num_cpus = 4;  // modelled CPUs, 2..64; each wakes tasks on the others
  uint64_t seed = 1;  // the whole run replays from it
  // Wall-time cap of the buggy phase (it ends at the first stuck task).
  absl::Duration buggy_budget = absl::Seconds(30);
  // Wall-time cap of the fixed phase; it also ends after fixed_wakeups
  // completed wake-ups (0 = budget only).
  absl::Duration fixed_budget = absl::Seconds(20);
  int64_t fixed_wakeups = 1'000'000;
  // A task not running this many virtual ticks after its wake-up is
  // reported; 0 = 200000 (+50000 per CPU beyond 4).
  int64_t threshold_ticks = 0;
  // Kernel models; only message-pass-mb, demux and cause-ipi-mb matter here.
  KernelModel buggy_model = KernelModel::Known("pre-9fb1b36");
  KernelModel fixed_model = KernelModel::Known("9fb1b36");
  // Cost of scheduler_ipi()'s wake-ups in Relax() iterations per task, and
  // the most Relax() iterations a CPU works between two wake-ups.
  int64_t ttwu_relax = 4;
  int64_t work_relax = 16;
  bool skip_buggy = false;
  bool skip_fixed = false;
};

// Checks the options; the error names the field and the fix.
absl::Status ValidateWakelistOptions(const WakelistOptions& options);

// One phase (one kernel model) of the scenario.
struct WakelistPhase {
  std::string kernel_model;  // KernelModel::ToString()
  std::string sites;         // the three sites this scenario uses
  bool hung = false;         // a stuck task was reported LOST
  double seconds = 0;
  double seconds_to_hang = 0;
  int64_t wakeups = 0;          // completed wake-ups (the task ran)
  int64_t wakeups_to_hang = 0;  // completed before the stuck one was reported
  int64_t ipis = 0;             // RESCHEDULE IPIs sent
  int64_t slow = 0;  // tasks past the threshold that then ran (not lost)
  int64_t ticks = 0;  // virtual ticks of the phase
  std::string report;  // the first LOST report (or the first SLOW one)
  // The LOST evidence, for tests: -1 when no LOST report.
  int stuck_waker = -1;
  int stuck_target = -1;
  uint64_t wake_list_bits = 0;  // rq->wake_list of the target then (bit w)
  uint64_t messages_now = 0;    // ipi_message bits of the target then
  // Messages the receiver's demux took when scheduler_ipi() last read the
  // list empty while the stuck entry was queued (0 = never).
  uint64_t missed_read_messages = 0;
  bool message_landed_late = false;  // RESCHEDULE set, no IPI coming
};

// Runs one kernel model with `options`' load until a task is stuck (LOST),
// `stop_after_wakeups` wake-ups completed (0 = none) or `budget` passes.
absl::StatusOr<WakelistPhase> RunWakelistPhase(const WakelistOptions& options,
                                               const KernelModel& model,
                                               absl::Duration budget,
                                               int64_t stop_after_wakeups);

// The buggy model until the hang, then the fixed one for fixed_wakeups, in
// the shared output contract (unit "wake-ups"); Pass() when both held.
absl::StatusOr<kvmbed::Reproduction> ReproduceMuxedIpiWakelist(
    const WakelistOptions& options);

// Benchmark: buggy runs with seeds 1..runs (median time and wake-ups to the
// stuck task, wake-ups/s) and one fixed run of fixed_wakeups.
struct WakelistBench {
  int runs = 0;
  int reproduced = 0;
  double median_seconds_to_hang = 0;
  double median_wakeups_to_hang = 0;
  double buggy_wakeups_per_second = 0;
  int64_t fixed_wakeups = 0;
  double fixed_wakeups_per_second = 0;
  int64_t fixed_hangs = 0;
};
absl::StatusOr<WakelistBench> RunWakelistBench(const WakelistOptions& options,
                                               int runs);
std::string RenderWakelistBench(const WakelistOptions& options,
                                const WakelistBench& bench);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_WAKELIST_H_
