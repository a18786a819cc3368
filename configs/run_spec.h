// The validated description of one kvmbed run. Profiles (configs/*.yaml)
// are parsed and checked into a RunSpec (configs/profile.h); everything
// downstream (vmm/, hostipi/, tools/) consumes only this struct, never YAML.
//
// Data flow: profile -> RunSpec -> VMs and host plane -> events -> report.
#ifndef KVMBED_CONFIGS_RUN_SPEC_H_
#define KVMBED_CONFIGS_RUN_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace kvmbed {

// Guest CPU topology as libvirt's <cpu><topology>; sockets*cores*threads
// equals the VM's vCPU count.
struct Topology {
  int sockets = 1;
  int cores = 1;
  int threads = 1;
};

// One libvirt-style <vcpupin> as the profile wrote it (before --fold-cpus):
// every vCPU in `vcpus` may run on every host CPU in `cpus`.
struct VcpuPin {
  std::vector<int> vcpus;  // sorted vCPU indexes
  std::vector<int> cpus;   // sorted host CPU numbers, unfolded
};

// One VM of a run.
struct VmSpec {
  std::string name;
  int vcpus = 1;
  Topology topology;
  uint64_t memory_bytes = 64ull << 20;
  // vcpu_affinity[i] lists the host CPUs vCPU i may run on (libvirt
  // vcpupin), after --fold-cpus. Always vcpus entries; an unpinned vCPU gets
  // every CPU of the host set the run may use. (Profiles loaded without a
  // host, ProfileOptions::check_host_cpus = false, leave unpinned vCPUs'
  // entries empty; such specs are for translating, not for running.)
  std::vector<std::vector<int>> vcpu_affinity;
  // True where the profile pinned vCPU i explicitly.
  std::vector<bool> vcpu_pinned;
  // Host CPUs for the VMM's own (non-vCPU) threads (libvirt emulatorpin);
  // empty when the profile does not pin them.
  std::vector<int> emulator_affinity;
  // The pinning exactly as the profile wrote it (before --fold-cpus), in
  // profile order, so exports (libvirt XML) reproduce the profile.
  std::vector<VcpuPin> vcpupin_as_written;
  std::vector<int> emulatorpin_as_written;  // empty when not pinned
};

// One run: where it came from, how long it lasts, what it runs.
struct RunSpec {
  std::string source;  // profile path (or "<built-in default>") for messages
  std::string name;
  absl::Duration duration = absl::Seconds(2);
  std::vector<VmSpec> vms;
  // The host CPU set the run may use (sorted), as given to the loader.
  std::vector<int> host_cpus;
  // True when the profile's CPUs were folded onto host_cpus (--fold-cpus).
  bool cpus_folded = false;
};

}  // namespace kvmbed

#endif  // KVMBED_CONFIGS_RUN_SPEC_H_
