// The profile's `reproduce:` section: the options of one `kvmbed reproduce
// NAME` scenario (configs/reproduce-NAME.yaml, documented in
// configs/README.md). The keys every scenario shares sit at the top of the
// section; a scenario's own keys sit in a sub-map named after it, and each
// such sub-map has its own typed struct here.
#ifndef KVMBED_SCENARIOS_REPRODUCE_SPEC_H_
#define KVMBED_SCENARIOS_REPRODUCE_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "hostipi/kernel_model.h"
#include "hostipi/ordering_mode.h"
#include "runner/run_spec.h"

namespace kvmbed {

// `reproduce.pvspinlock:` (pvspinlock-kick).
struct PvSpinlockSpec {
  int spin_loops = 1024;  // lock attempts before the slow path (SPIN_THRESHOLD)
  int holder = 0;         // the vCPU that holds the lock and raises the io interrupt
  int irq_vcpu = 1;       // the waiter whose io interrupt handler needs task_vcpu
  int task_vcpu = 2;      // the waiter running task x (must be > irq_vcpu)
  absl::Duration hold = absl::Microseconds(500);
  absl::Duration think = absl::Microseconds(200);
  double irq_fraction = 0.5;  // holder rounds that raise the io interrupt
};

// `reproduce.offline:` (offline-csd-flush).
struct OfflineSpec {
  int target = 1;  // the vCPU taken offline and back (every other vCPU calls it)
  absl::Duration offline = absl::Milliseconds(400);        // per cycle, offline
  absl::Duration online = absl::Milliseconds(20);          // per cycle, online
  absl::Duration dying_window = absl::Microseconds(500);   // irqs off, still online
  absl::Duration tick = absl::Milliseconds(1);  // how often a halted target polls requests
};

// `reproduce.wakelist:` (muxed-ipi-wakelist, on the modelled host plane, no
// VM; hostipi/wakelist.h WakelistOptions). The section's `threshold` does
// not apply: its hung-task threshold counts virtual ticks.
struct WakelistSpec {
  // native is refused by the scenario
  hostipi::OrderingMode mode = hostipi::OrderingMode::kEmulatedPower;
  int cpus = 4;                             // modelled CPUs, 2..64
  hostipi::KernelModel buggy_model = hostipi::KernelModel::Known("pre-9fb1b36");
  hostipi::KernelModel fixed_model = hostipi::KernelModel::Known("9fb1b36");
  int64_t threshold_ticks = 0;  // 0 = 200000 + 50000 per CPU above 4
};

// `reproduce.lost_host_ipi:` (lost-host-ipi on the modelled host plane, no
// VM; hostipi/reproduce.h ReproduceOptions). Budgets, seed and
// fixed_operations (doorbells) come from the section's shared keys.
struct LostHostIpiSpec {
  int shape = 1;  // 1 = the sender's stores reordered, 2 = the receiver's clear
  // or native (shape 2 only)
  hostipi::OrderingMode mode = hostipi::OrderingMode::kEmulatedPower;
  int cpus = 0;                         // 0 = default (emulated 4, native 2)
  // Kernel models; none = the shape's default.
  std::optional<hostipi::KernelModel> buggy_model;
  std::optional<hostipi::KernelModel> fixed_model;
  int64_t threshold = 0;  // ns (native) or virtual ticks (emulated); 0 = default
  std::vector<int> pin;   // host CPUs for native modelled CPUs; empty = 0,1,...
};

struct ReproduceSpec {
  bool present = false;  // the profile had a `reproduce:` section
  std::string scenario;  // required in the section: e.g. "pvspinlock-kick"
  // Wall-time cap of the buggy phase (it ends at the first detected hang).
  absl::Duration buggy_budget = absl::Seconds(30);
  // Wall-time budget of the fixed phase, which also ends after
  // fixed_operations operations (0 = budget only).
  absl::Duration fixed_budget = absl::Seconds(10);
  int64_t fixed_operations = 0;
  uint64_t seed = 1;  // guest PRNG seed (0 = from the clock)
  // Hang threshold (no progress / csd wait); zero = calibrated from the
  // host's IPI latency as the guest csd threshold is.
  absl::Duration threshold = absl::ZeroDuration();

  PvSpinlockSpec pvspinlock;
  OfflineSpec offline;
  WakelistSpec wakelist;
  LostHostIpiSpec lost_host_ipi;
};

// A scenario's whole profile: the run it describes (its VMs, their pinning)
// and its `reproduce:` section.
struct ScenarioProfile : RunSpec {
  ReproduceSpec reproduce;
};

}  // namespace kvmbed

#endif  // KVMBED_SCENARIOS_REPRODUCE_SPEC_H_
