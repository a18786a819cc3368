// The hypervisor-side csd watch for Linux guests without
// CONFIG_CSD_LOCK_WAIT_DEBUG: from periodic RIP samples of every vCPU, which
// vCPU has been waiting for an IPI's answer (its RIP in csd_lock_wait,
// smp_call_function_many_cond, ...) for longer than a threshold, and which
// vCPU owes it that answer.
//
// Two things make raw samples misleading, and this class is where they are
// handled:
//  * A waiting CPU still takes interrupts (the tick, other IPIs), so some of
//    its samples land in a handler. A wait ends only when the vCPU has been
//    seen outside it for longer than `grace`, not at the first such sample.
//  * A call-function vector (0xfb/0xfc) in some vCPU's IRR at one instant is
//    normal: IPIs are in flight all the time under IPI-heavy load. A vCPU
//    owes an answer when it is withheld from KVM_RUN, or when its
//    call-function vector has stayed pending in every sample for at least
//    `owed_after`.
// A wait with nobody owing is reported once as "ipi_wait_long" (a vCPU that
// sends IPIs back to back looks the same) and does not fail the run; the
// same wait becomes a "csd" verdict, which does, as soon as somebody owes.
//
// Pure code over samples: unit-tested without /dev/kvm.
#ifndef KVMBED_WATCH_LINUX_IPI_WAIT_H_
#define KVMBED_WATCH_LINUX_IPI_WAIT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace kvmbed {
namespace watch {

struct IpiWaitOptions {
  absl::Duration threshold = absl::Seconds(5);   // a wait this long is reported
  absl::Duration grace = absl::Seconds(1);       // samples outside the wait this long end it
  absl::Duration owed_after = absl::Seconds(1);  // a call-function vector pending this long is owed
};

// One vCPU at one sampling instant.
struct VcpuIpiSample {
  bool answered = false;               // the vCPU answered the sample (registers known)
  bool in_ipi_wait = false;            // its RIP is in an IPI-wait function
  bool withheld = false;               // kept out of KVM_RUN (fault injection)
  bool call_function_pending = false;  // 0xfb or 0xfc in its IRR
  std::string where;                   // the RIP's symbol, for the report
};

// Who owes a waiting vCPU its answer.
struct IpiOwer {
  int vcpu = -1;          // -1: nobody
  bool withheld = false;  // else: its call-function vector is pending
  double pending_s = 0;   // how long that vector has been pending
  // "withheld from KVM_RUN" or "call-function IPI pending for 1.2 s".
  std::string Why() const;
};

struct IpiWaitVerdict {
  int waiter = -1;
  std::string kind;   // "csd" (somebody owes: fails the run) or "ipi_wait_long"
  bool fatal = false;
  double waited_s = 0;
  std::string where;  // the waiter's symbol at the verdict
  IpiOwer owed_by;
};

class IpiWaitTracker {
 public:
  IpiWaitTracker(int vcpus, IpiWaitOptions options);

  // Feeds one sample of every vCPU (`vcpus` entries, in vCPU order) taken at
  // `now`; returns the verdicts this sample completes.
  std::vector<IpiWaitVerdict> Feed(absl::Time now, const std::vector<VcpuIpiSample>& vcpus);

  // The vCPU other than `self` (-1: any) that owes an answer as of the last
  // sample: a withheld one first, else the one whose call-function vector
  // has been pending longest, if at least `owed_after`.
  IpiOwer Owing(int self) const;

  // When `vcpu` was last seen withheld (InfinitePast if never).
  absl::Time LastWithheld(int vcpu) const;

 private:
  struct PerVcpu {
    absl::Time wait_since = absl::InfiniteFuture();
    absl::Time last_in_wait = absl::InfinitePast();
    bool reported_long = false;
    bool reported_csd = false;
    bool withheld = false;
    absl::Time last_withheld = absl::InfinitePast();
    absl::Time pending_since = absl::InfiniteFuture();
    std::string where;  // the symbol of its last in-wait sample
  };
  const IpiWaitOptions options_;
  std::vector<PerVcpu> v_;
  absl::Time now_ = absl::InfinitePast();
};

}  // namespace watch
}  // namespace kvmbed

#endif  // KVMBED_WATCH_LINUX_IPI_WAIT_H_
