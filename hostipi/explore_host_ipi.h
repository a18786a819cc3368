// The host-IPI protocol under the exhaustive POWER explorer (power_model.h):
// is a lost IPI reachable for a kernel model, and if so, by which shortest
// execution?
//
// The modelled CPUs: CPUs 0..cpus-2 are senders in host mode, the last CPU
// is the target, in its guest. Each sender sends `ipis` IPIs to the target,
// each one a RESCHEDULE or a CALL_FUNCTION (every sequence is explored):
//
//   CALL_FUNCTION: csd_lock (wait for the csd's flag, acquire, set it,
//     smp_wmb), llist_add to the target's call_single_queue (fully ordered
//     RMW); if the queue was empty the message pass below; then
//     csd_lock_wait (spin, acquire).
//   message pass: [smp_mb if message-pass-mb]; message[m] = 1;
//     [smp_mb if mb-before-set]; host_ipi = 1; sync (ppc_msgsnd_sync);
//     msgsnd.
//
// The target loops: take a doorbell in the guest, msgsync (lwsync), read
// host_ipi; 0 -> ignore the doorbell, back into the guest; 1 ->
// doorbell_exception: host_ipi = 0 [smp_mb if mb-after-clear], the demux
// (peek: plain loads of the messages first, the exchange only if one is
// set; xchg: fully ordered; xchg-relaxed: not), CALL_FUNCTION runs the queue
// (llist_del_all, then csd_unlock = lwsync + store per queued csd),
// RESCHEDULE costs nothing; `while (messages)` re-reads; back into the guest.
//
// Each message of the muxed ipi_message word is its own location here (the
// kernel sets one byte with a plain byte store); the demux's exchange is one
// atomic exchange per message inside the same barriers. That is a superset
// of the word's behaviours (two exchanges are not one), so "unreachable"
// stays a proof; every trace it prints is checked to need nothing the word
// would forbid by reading it (the messages are only ever set by senders and
// cleared by the target).
//
// A lost IPI (the LOST verdict of hostipi/stall_report.h) is a state where
// every write and barrier has reached every CPU, the target sits in its
// guest with no doorbell pending and ignored its last doorbell, host_ipi
// is 0 while CALL_FUNCTION is set, and every sender is done or spins in
// csd_lock_wait on a csd still locked, one of them queued on the target: no
// execution can ever leave it.
//
// Threading: plain functions, run on the caller's thread.
#ifndef KVMBED_HOSTIPI_EXPLORE_HOST_IPI_H_
#define KVMBED_HOSTIPI_EXPLORE_HOST_IPI_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hostipi/kernel_model.h"
#include "hostipi/power_model.h"
#include "hostipi/stall_report.h"

namespace kvmbed {
namespace hostipi {

struct HostIpiExploreOptions {
  KernelModel model;
  int cpus = 2;    // 2..4: cpus-1 senders and one target
  int ipis = 2;    // IPIs per sender (the bound)
  // If not empty: every sender sends exactly these messages, in order
  // (kCallFunction / kReschedule), instead of every sequence of `ipis`.
  std::vector<int> sequence;
  int window = 8;  // in-flight instructions per CPU
  int64_t max_states = 50'000'000;
  absl::Duration time_budget = absl::Minutes(30);
  // Decide depth first (little memory), then search breadth first for the
  // shortest trace only if a loss is reachable. False: breadth first at
  // once (faster when a loss is expected).
  bool decide_depth_first = true;
};

// The locations of the modelled protocol.
enum HostIpiLocation : int {
  kLocHostIpi = 0,
  kLocMessageCallFunction = 1,
  kLocMessageReschedule = 2,
  kLocCallSingleQueue = 3,
  kLocCsdFlags0 = 4,  // + sender
};

// Parses "rs,rs,cf" (RESCHEDULE, CALL_FUNCTION) into a sequence.
absl::StatusOr<std::vector<int>> ParseMessageSequence(const std::string& text);

// The program the explorer runs (exposed for tests).
absl::StatusOr<power::Program> BuildHostIpiProgram(const HostIpiExploreOptions& o);

// True when the state is the permanent lost IPI described above.
bool IsLostHostIpi(const power::Program& p, const power::StateView& v);

struct HostIpiExploreResult {
  HostIpiExploreOptions options;
  bool lost = false;       // a lost IPI is reachable
  bool complete = false;   // every reachable state was visited (no loss: a proof)
  power::ExploreResult explore;
  StallReport report;      // the lost IPI as a stall report (lost only)
};

absl::StatusOr<HostIpiExploreResult> ExploreLostHostIpi(const HostIpiExploreOptions& o);

// Human-readable result: the report with its shortest trace, or the proof
// and its figures.
std::string RenderHostIpiExplore(const HostIpiExploreResult& r);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_EXPLORE_HOST_IPI_H_
