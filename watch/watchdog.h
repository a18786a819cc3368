// Soft-lockup watchdog over guest heartbeats, as the kernel's softlockup
// detector: a watched vCPU whose heartbeat has not moved for `threshold`
// is reported (`watchdog: BUG: soft lockup - vCPU#N stuck for Ts!`), and
// again every further `threshold` while it stays stuck.
//
// The logic (SoftLockupDetector) is pure and clocked by the caller, so it is
// unit-tested without KVM; runner/smp_run.cc feeds it and formats the reports
// with a register snapshot of the stuck vCPU.
//
// Threading: not thread-safe; one owner thread calls Check().
#ifndef KVMBED_WATCH_WATCHDOG_H_
#define KVMBED_WATCH_WATCHDOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace kvmbed {
namespace vmm {
class ElfImage;
struct VcpuSnapshot;
}  // namespace vmm

namespace watch {

struct SoftLockup {
  int vcpu = -1;
  absl::Duration stuck_for;  // since the last heartbeat change
  bool first = true;         // first report of this episode
};

class SoftLockupDetector {
 public:
  // `threshold` must be > 0.
  SoftLockupDetector(int num_vcpus, absl::Duration threshold);

  // One sample at `now`: heartbeats[i] of every vCPU and whether vCPU i is
  // watched (a vCPU that finished or stopped is not). Returns the vCPUs that
  // crossed the threshold (or another multiple of it) at this sample.
  std::vector<SoftLockup> Check(absl::Time now, const std::vector<uint64_t>& heartbeats,
                                const std::vector<bool>& watched);
  // vCPUs stuck (past the threshold) at the last sample.
  std::vector<int> Stuck() const;
  absl::Duration threshold() const { return threshold_; }

 private:
  struct State {
    uint64_t beat = 0;
    absl::Time since = absl::InfinitePast();
    int reports = 0;
    bool stuck = false;
    bool watched = false;  // at the previous sample
  };
  absl::Duration threshold_;
  std::vector<State> state_;
};

// The kernel-style report: headline, then where the guest says it is, then
// registers with the RIP symbolized.
std::string FormatSoftLockup(const SoftLockup& s, const vmm::VcpuSnapshot* snap,
                             const std::string& snapshot_error, const vmm::ElfImage& elf);

}  // namespace watch
}  // namespace kvmbed

#endif  // KVMBED_WATCH_WATCHDOG_H_
