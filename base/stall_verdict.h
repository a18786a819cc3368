// Lost or slow: the one rule kvmbed applies to every wait it reports, on
// every plane (the guest's csd_lock_wait, the modelled POWER host's
// csd_lock_wait, the wake_list's stuck task).
//
// A waiter is stuck on a request it queued on a target CPU. The wait is
// LOST when the evidence shows that nothing will ever run the request: it is
// still queued, the target is not running it, no interrupt for it is
// pending or in service, no CPU is between queueing and sending one, and
// the plane knows of nothing else that will make the target look at its
// queue. A target busy with another request does not count by itself: in
// Linux the flush that runs it took the queue (llist_del_all) before this
// request was added, so only a new interrupt runs this one; a plane whose
// handler re-reads its queue says so in other_progress. Otherwise it is SLOW: the report names
// each thing that may still make progress, and a later report may find it
// LOST. A wait whose target could not be examined is never LOST.
//
// Pure functions over a plain evidence struct: each plane gathers the
// evidence its own way (KVM registers and guest memory, the modelled CPUs'
// state) and calls Judge(); unit-tested without /dev/kvm.
#ifndef KVMBED_BASE_STALL_VERDICT_H_
#define KVMBED_BASE_STALL_VERDICT_H_

#include <string>
#include <vector>

namespace kvmbed {
namespace stall {

enum class Verdict { kSlow, kLost };
const char* VerdictName(Verdict v);  // "SLOW", "LOST"

// What the target CPU is doing about the queue.
enum class TargetWork {
  kNothing,       // idle or elsewhere: not running requests
  kThisRequest,   // running the waited-for request now
  kOtherRequest,  // running another request (taken from the queue earlier)
};

struct WaitEvidence {
  // The target was examined consistently (a snapshot of a stopped vCPU, or
  // a model state that did not change while read). When false,
  // unexamined_why says why and the verdict is SLOW.
  bool examined = true;
  std::string unexamined_why;
  // The waited-for request is still on the target's queue.
  bool request_queued = false;
  TargetWork target_work = TargetWork::kNothing;
  // An interrupt that makes the target run its queue: pending (IRR bit,
  // doorbell latch) or in service (its handler runs).
  bool interrupt_pending = false;
  bool interrupt_in_service = false;
  // A CPU that queued on the target and has not sent its interrupt yet; -1
  // when none.
  int sender_in_flight = -1;
  // What else, on this plane, will still make the target run its queue
  // ("it is in host mode and will poll for doorbells"); empty = nothing.
  std::vector<std::string> other_progress;
};

struct Judgement {
  Verdict verdict = Verdict::kSlow;
  // LOST: empty (the plane states what was lost); SLOW: "; "-joined list of
  // what may still make progress, e.g. "the interrupt is pending".
  std::string slow_because;
  // Each reason separately, in the order above.
  std::vector<std::string> progress;
};

Judgement Judge(const WaitEvidence& e);

}  // namespace stall
}  // namespace kvmbed

#endif  // KVMBED_BASE_STALL_VERDICT_H_
