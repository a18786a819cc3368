// lost-host-ipi --plane=kvm: scenario 2 of 3a83f677 (the receiver's clear of
// host_ipi reordered) on real KVM vCPU threads, through the host plane.
#ifndef KVMBED_SCENARIOS_LOST_HOST_IPI_KVM_H_
#define KVMBED_SCENARIOS_LOST_HOST_IPI_KVM_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/reproduction.h"
#include "hostipi/kernel_model.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace scenarios {

// Scenario 2 of 3a83f677 on REAL vCPU threads: a 1-vCPU VM whose vCPU thread
// is the target host CPU (it stays in the guest) and one pinned sender thread
// sending RESCHEDULE bursts then CALL_FUNCTION and waiting; native x86 store
// buffer, demux=peek; buggy v5.4,mb-after-clear=off,demux=peek until the
// first LOST (or the budget), then the fixed v5.4,demux=peek for a budget.
struct KvmReproOptions {
  absl::Duration buggy_budget = absl::Seconds(20);
  absl::Duration fixed_budget = absl::Seconds(10);
  int64_t fixed_doorbells = 0;  // 0 = budget only
  int resched_burst = 3;
  // The sender waits until the target has left the guest for the previous
  // doorbell (at most ~3000 pause loops) and then a random 0..align_jitter
  // pause loops before the next
  // message, so messages land in the target's exit path (the seed's heavy
  // traffic does this by chance; a kick takes ~20-50 us here). 0 = off.
  int align_jitter = 8;
  std::vector<int> pin_cpus = {0, 1};  // sender, vCPU
  hostipi::KernelModel buggy_model = hostipi::KernelModel::Known("v5.4,mb-after-clear=off,demux=peek");
  hostipi::KernelModel fixed_model = hostipi::KernelModel::Known("v5.4,demux=peek");
  // kNative: x86's own store buffer; kEmulatedPower: ThreadStoreBuffers with
  // holds up to store_hold on both threads (HostPlaneOptions).
  hostipi::OrderingMode ordering = hostipi::OrderingMode::kNative;
  absl::Duration store_hold = absl::Milliseconds(1);
  absl::Duration threshold = absl::ZeroDuration();  // zero = calibrated
  std::function<void(const std::string&)> out;  // reports; null = discard
};
absl::StatusOr<Reproduction> ReproduceLostHostIpiOnKvm(const KvmReproOptions& options);

}  // namespace scenarios
}  // namespace kvmbed

#endif  // KVMBED_SCENARIOS_LOST_HOST_IPI_KVM_H_
