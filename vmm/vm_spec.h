// What one VM is: its vCPUs, their topology and host-CPU pinning, its RAM.
// The VMM core (machine.h) builds a VM from a VmSpec and nothing else; the
// profile reader (configs/) fills it from YAML.
#ifndef KVMBED_VMM_VM_SPEC_H_
#define KVMBED_VMM_VM_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

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

}  // namespace kvmbed

#endif  // KVMBED_VMM_VM_SPEC_H_
