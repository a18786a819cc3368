// The validated description of one kvmbed run. Profiles (configs/*.yaml)
// are parsed and checked into a RunSpec (configs/profile.h); everything
// downstream (vmm/, hostipi/, tools/) consumes only this struct, never YAML.
//
// Data flow: profile -> RunSpec -> VMs and host plane -> events -> report.
#ifndef KVMBED_CONFIGS_RUN_SPEC_H_
#define KVMBED_CONFIGS_RUN_SPEC_H_

#include <cstdint>
#include <map>
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

// The profile's `hostipi:` section (configs/README.md): the modelled POWER
// host plane on the VMs' vCPU threads (vmm/host_plane.h). Every vCPU thread
// is a modelled host CPU; ksmd-like host threads and vCPU threads handling
// guest IO exits send it RESCHEDULE and CALL_FUNCTION IPIs through the
// hostipi protocol. One plane per VM (hostipi models at most 64 CPUs).
struct HostIpiSpec {
  bool enabled = false;
  // hostipi KernelModel string: preset[,site=value]..., e.g. "v5.3" or
  // "v5.4,mb-after-clear=off,demux=peek".
  std::string kernel_model = "v5.4";
  // Memory ordering of the vCPU-thread CPUs: "native" (this machine's own)
  // or "emulated-power" (a seeded software store buffer per thread that
  // holds each unfenced store up to store_hold; hostipi/memory_model.h
  // ThreadStoreBuffers).
  std::string ordering = "native";
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

// What the guest runs (the profile's `guest:` section, see configs/README.md):
// scftorture's smp_call_function mix and stress-like workers, with the
// csd_lock_wait / soft-lockup thresholds and fault injection. Consumed by
// vmm/smp_run.h.
struct GuestSpec {
  // "idle" (halt, timer heartbeats), "spin" (busy heartbeat loop) or
  // "torture" (the IPI mix + stress workers below).
  std::string workload = "idle";
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
  // to check the error path (`kvmbed run --inject-fault`): "triple", "ud",
  // "gp", "page", "divide", "bad-port", "mmio"; empty = none.
  std::string inject_fault;
  int inject_fault_vcpu = 0;
};

// The profile's `reproduce:` section (configs/README.md): the options of a
// `kvmbed reproduce NAME` scenario, one profile per scenario
// (configs/reproduce-NAME.yaml). Scenario-specific keys sit in a sub-map
// named after the scenario family.
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

  // `pvspinlock:` (pvspinlock-kick)
  int pv_spin_loops = 1024;      // lock attempts before the slow path (SPIN_THRESHOLD)
  int pv_holder = 0;             // the vCPU that holds the lock and raises the io interrupt
  int pv_irq_vcpu = 1;           // the waiter whose io interrupt handler needs pv_task_vcpu
  int pv_task_vcpu = 2;          // the waiter running task x (must be > pv_irq_vcpu)
  absl::Duration pv_hold = absl::Microseconds(500);
  absl::Duration pv_think = absl::Microseconds(200);
  double pv_irq_fraction = 0.5;  // holder rounds that raise the io interrupt

  // `offline:` (offline-csd-flush)
  int hp_target = 1;  // the vCPU taken offline and back (every other vCPU calls it)
  absl::Duration hp_offline = absl::Milliseconds(400);  // per cycle, offline
  absl::Duration hp_online = absl::Milliseconds(20);    // per cycle, online
  absl::Duration hp_dying_window = absl::Microseconds(500);  // irqs off, still online
  absl::Duration hp_tick = absl::Milliseconds(1);  // how often a halted target polls requests

  // `wakelist:` (muxed-ipi-wakelist, on the modelled host plane, no VM;
  // hostipi/wakelist.h WakelistOptions). `threshold` above does not apply:
  // its hung-task threshold counts virtual ticks.
  std::string wl_mode = "emulated-power";    // native is refused by the scenario
  int wl_cpus = 4;                           // modelled CPUs, 2..64
  std::string wl_buggy_model = "pre-9fb1b36";  // hostipi KernelModel strings
  std::string wl_fixed_model = "9fb1b36";
  int64_t wl_threshold_ticks = 0;  // 0 = 200000 + 50000 per CPU above 4

  // `lost_host_ipi:` (lost-host-ipi on the modelled host plane, no VM;
  // hostipi/reproduce.h ReproduceOptions). Budgets, seed and
  // fixed_operations (doorbells) come from the section above.
  int lhi_shape = 1;  // 1 = the sender's stores reordered, 2 = the receiver's clear
  std::string lhi_mode = "emulated-power";  // or native (shape 2 only)
  int lhi_cpus = 0;                         // 0 = default (emulated 4, native 2)
  std::string lhi_buggy_model;              // empty = the shape's default
  std::string lhi_fixed_model;
  int64_t lhi_threshold = 0;  // ns (native) or virtual ticks (emulated); 0 = default
  std::vector<int> lhi_pin;   // host CPUs for native modelled CPUs; empty = 0,1,...
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
  // The `reproduce:` section (present = false when absent).
  ReproduceSpec reproduce;
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

#endif  // KVMBED_CONFIGS_RUN_SPEC_H_
