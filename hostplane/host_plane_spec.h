// The options of the modelled POWER host plane on a VM's vCPU threads
// (hostplane/host_plane.h), as the profile's `hostipi:` section gives them.
#ifndef KVMBED_HOSTPLANE_HOST_PLANE_SPEC_H_
#define KVMBED_HOSTPLANE_HOST_PLANE_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "hostipi/kernel_model.h"
#include "hostipi/ordering_mode.h"

namespace kvmbed {

// The profile's `hostipi:` section (configs/README.md): the modelled POWER
// host plane on the VMs' vCPU threads (hostplane/host_plane.h). Every vCPU thread
// is a modelled host CPU; ksmd-like host threads and vCPU threads handling
// guest IO exits send it RESCHEDULE and CALL_FUNCTION IPIs through the
// hostipi protocol. One plane per VM (hostipi models at most 64 CPUs).
struct HostIpiSpec {
  bool enabled = false;
  // The modelled kernel, parsed from preset[,site=value]..., e.g. "v5.3" or
  // "v5.4,mb-after-clear=off,demux=peek"; the default is the v5.4 preset.
  hostipi::KernelModel kernel_model;
  // Memory ordering of the vCPU-thread CPUs: native (this machine's own)
  // or emulated-power (a seeded software store buffer per thread that
  // holds each unfenced store up to store_hold; hostipi/memory_model.h
  // ThreadStoreBuffers).
  hostipi::OrderingMode ordering = hostipi::OrderingMode::kNative;
  absl::Duration store_hold = absl::Milliseconds(1);
  // ksmd-like host stress threads per VM (smp_call_function_many on the
  // VM's vCPU-thread CPUs), pinned to ksmd_cpus (empty = the VM's
  // emulatorpin, else any CPU of the run).
  int ksmd_threads = 1;
  std::vector<int> ksmd_cpus;
  // Pause between two calls of one ksmd thread.
  absl::Duration ksmd_pause = absl::Microseconds(200);
  // vCPU threads handling a guest IO exit (the seed's page-fault path) call
  // the other host CPUs and wait, with this probability per exit.
  bool vcpu_exit_calls = true;
  double exit_call_probability = 0.5;
  // Probability that a RESCHEDULE precedes each call (interleaving).
  double resched_fraction = 0.5;
  // csd_lock_wait report threshold; zero = calibrated from this VM's kick
  // latency at start-up.
  absl::Duration stall_threshold = absl::ZeroDuration();
  // csdlock_debug: re-send the IPI when a report finds the target idle.
  bool resend_on_stall = false;
  uint64_t seed = 1;
  // Fault injection (tests, not in profiles): once the plane runs, drop the
  // next host_ipi = 1 store to this vCPU (a forced lost IPI); -1 = off.
  int drop_host_ipi_vcpu = -1;
};

}  // namespace kvmbed

#endif  // KVMBED_HOSTPLANE_HOST_PLANE_SPEC_H_
