// The validated description of one kvmbed run: its VMs, what their guests
// run, the host plane and the host stress beside them. The profile reader
// (configs/profile.h) produces it; the runners (smp_run.h, soak.h) consume
// only this struct, never YAML.
//
// Data flow: profile -> RunSpec -> VMs and host plane -> events -> report.
#ifndef KVMBED_RUNNER_RUN_SPEC_H_
#define KVMBED_RUNNER_RUN_SPEC_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "guest/abi.h"
#include "hostplane/host_plane_spec.h"
#include "runner/guest_workload.h"
#include "vmm/vm_spec.h"

namespace kvmbed {

// A Linux guest instead of the built-in one: the Linux fields of a profile's
// `guest:` section (docs/linux-guests.md), run by runner/linux_run.h.
struct LinuxGuestSpec {
  bool present = false;     // guest.kernel given (or --guest-kernel)
  std::string kernel;       // bzImage; "default" = newest /boot/vmlinuz-*
  std::string initrd;       // empty = tools/linux_initramfs.sh's cached one
  std::string cmdline;      // empty = DefaultLinuxCmdline()
  std::string system_map;   // optional System.map (needs nokaslr)
  std::vector<std::string> commands;  // shell lines run by init
  // Hypervisor-side fault: do not enter KVM_RUN for vCPU `withhold_vcpu`
  // for `withhold_for`, starting `withhold_after` after init starts.
  int withhold_vcpu = -1;
  absl::Duration withhold_after = absl::Seconds(2);
  absl::Duration withhold_for = absl::Seconds(40);
  // RIP sampling: rate, and how long a vCPU may stay in an IPI-wait
  // function before it is a csd stall.
  double sample_hz = 20;
  absl::Duration csd_threshold = absl::Seconds(5);
  // The guest must power off within this long (wall time) or the run fails.
  absl::Duration timeout = absl::Seconds(600);
  std::string console_log;  // empty = no file
};

// What the guest runs (the profile's `guest:` section, see configs/README.md):
// scftorture's smp_call_function mix and stress-like workers, with the
// csd_lock_wait / soft-lockup thresholds and fault injection. Consumed by
// runner/smp_run.h.
struct GuestSpec {
  // guest.kernel and the other Linux fields; linux.present = false for the
  // built-in guest.
  LinuxGuestSpec linux;
  // idle (halt, timer heartbeats), spin (busy heartbeat loop) or torture
  // (the IPI mix + stress workers below).
  GuestWorkload workload = GuestWorkload::kIdle;
  // Torture ops per vCPU; 0 = until the run's duration ends.
  uint64_t ops_per_vcpu = 0;
  // Run the torture op loop in ring 3 (3), ring 0 (0), or choose by the
  // KVM in use (-1, "auto"): ring 3 on kvm_pvm, ring 0 on VMX and SVM.
  // kvm_pvm emulates ring-0 guest code instruction by instruction and runs
  // ring 3 natively, so there ring 3 gives several times the IPI traffic; the
  // loop's few privileged instructions (ICR wrmsr, report out, cli/sti, hlt)
  // then trap to ring 0 as #GP and are emulated there. On VMX and SVM ring 0
  // runs natively and that detour only adds a guest exception per privileged
  // instruction to every IPI. The IPI handlers run in ring 0 either way.
  int ring = -1;
  // scftorture's nthreads: vCPUs 0..nthreads-1 invoke, the others only
  // serve IPIs (and run their stress workers); 0 = every vCPU.
  int nthreads = 0;
  // scftorture weights in this order: resched, single, single_wait, many,
  // many_wait, all, all_wait. -1 = scftorture's default (2n, 2n, 2n, 2, 2,
  // 1, 1 for n vCPUs when every weight is -1; 0 otherwise).
  std::vector<int> weights = {-1, -1, -1, -1, -1, -1, -1};
  // stress --cpu N --io N --vm N --vm-bytes S (workers spread round-robin
  // over the vCPUs, cpu first). A vCPU given a cpu worker runs only that: an
  // SSE sqrt loop in ring 3 with interrupts on (it still serves IPIs).
  int stress_cpu = 0;
  int stress_io = 0;
  int stress_vm = 0;
  uint64_t stress_vm_bytes = 1ull << 20;
  // Directory for the io workers' scratch file; empty = $TMPDIR or /tmp.
  std::string io_scratch_dir;
  // csd_lock_wait report threshold and soft-lockup threshold; zero means
  // "derive from an IPI-latency calibration at start-up".
  absl::Duration csd_timeout = absl::ZeroDuration();
  absl::Duration soft_lockup_threshold = absl::ZeroDuration();
  // csdlock_debug: re-send the IPI when a report finds the target idle.
  bool csd_resend = false;
  // Fault injection: vCPU `fault_vcpu` (-1 = every vCPU) drops this
  // fraction [0, 1] of its call-function IPIs (the handler returns without
  // flushing its queue).
  int fault_vcpu = -1;
  double drop_ipi_fraction = 0;
  // Fault injection: the scftorture handlers of `fault_vcpu` busy-wait this
  // long (a SLOW target, as scftorture's longwait); zero = off.
  absl::Duration handler_delay = absl::ZeroDuration();
  // Period of the scftorture-like stat lines; zero = none.
  absl::Duration stat_interval = absl::Seconds(1);
  // PRNG seed of the guest (0 = derived from the clock).
  uint64_t seed = 0;
  // A deliberate guest fault committed by vCPU inject_fault_vcpu once online,
  // to check the error path (`kvmbed run --inject-fault`, parsed there by
  // vmm::ParseGuestFault); kFaultNone = none.
  abi::Fault inject_fault = abi::kFaultNone;
  int inject_fault_vcpu = 0;
};

// The profile's `host_stress:` section: the real stress-ng run on the host
// beside the VMs (`stress-ng --cpu N --io N --vm N --vm-bytes S`), pinned to
// `cpus` (after --fold-cpus; empty = not pinned). Used by `kvmbed soak`.
struct HostStressSpec {
  bool enabled = false;
  int cpu = 0;
  int io = 0;
  int vm = 0;
  uint64_t vm_bytes = 256ull << 20;
  std::vector<int> cpus;             // host CPUs, folded
  std::vector<int> cpus_as_written;  // as the profile wrote them
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
  // The modelled POWER host plane (the profile's `hostipi:` section).
  HostIpiSpec hostipi;
  // What every VM's guest runs (the profile's `guest:` section)...
  GuestSpec guest;
  // ...unless the VM's own `vms[i].guest:` section says otherwise (keyed by
  // VM name; a VM's section replaces the run-wide one as a whole).
  std::map<std::string, GuestSpec> vm_guest;
  // The guest workload of `vm`.
  const GuestSpec& GuestFor(const std::string& vm) const {
    auto it = vm_guest.find(vm);
    return it == vm_guest.end() ? guest : it->second;
  }
  // The profile's `guest_memory:` section: madvise every VM's RAM with
  // MADV_HUGEPAGE (thp) and MADV_MERGEABLE (ksm), as the seed's host had.
  bool thp = false;
  bool ksm = false;
  // The profile's `host_stress:` section.
  HostStressSpec host_stress;
  // --scale: the factor the loader applied to stress counts and sizes
  // (ProfileOptions::scale); 1 = as written.
  double scale = 1;
};

}  // namespace kvmbed

#endif  // KVMBED_RUNNER_RUN_SPEC_H_
