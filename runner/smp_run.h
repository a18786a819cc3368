// Runs a VM's guest workload (configs GuestSpec) and watches it: every guest
// csd_lock_wait past its threshold becomes a kernel-style report
// (hostipi/stall_report.h format) with what only the VMM can see about the
// target vCPU (taken in the target's own thread: what it is handling, its
// queue, its local APIC, in guest / halted, its registers with the RIP
// symbolized); every vCPU's heartbeat feeds the soft-lockup watchdog;
// scftorture-style stat lines print periodically and the run ends with
// `End of test: SUCCESS|FAILURE`.
//
// LOST vs SLOW (docs/DESIGN.md "Lost or slow"): a stall is LOST when, at
// the report, the csd still sits in the target's call_single_queue, the
// target is not handling it, and no call-function interrupt is pending or in
// service in the target's local APIC (nothing will ever run the queue), or
// when the wait only cleared after a re-sent IPI. Otherwise it is SLOW; a
// SLOW stall does not fail the run. A stall still open at the end of the
// run fails it (unresolved) once it has lasted the soft-lockup threshold;
// a younger open one counts as SLOW.
//
// Threading: RunSmpWorkload() blocks its caller (the emulator thread) and
// prints through `SmpRunOptions::out`, which is called from that thread and
// from vCPU threads, one complete report per call, never concurrently.
#ifndef KVMBED_RUNNER_SMP_RUN_H_
#define KVMBED_RUNNER_SMP_RUN_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/event_log.h"
#include "runner/run_spec.h"
#include "guest/abi.h"
#include "hostipi/host_ipi.h"
#include "hostipi/stall_report.h"
#include "hostplane/host_plane.h"
#include "runner/ipi_latency.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace runner {

struct SmpRunOptions {
  // How long to run; with ops_per_vcpu > 0 the run ends earlier once every
  // vCPU finished its ops.
  absl::Duration duration = absl::Seconds(2);
  // Where reports and stat lines go (whole multi-line blocks). Null = stdout.
  std::function<void(const std::string&)> out;
  // How long a report waits for the target vCPU's snapshot.
  absl::Duration snapshot_timeout = absl::Seconds(1);
  // Host-plane hooks chained behind the snapshot hooks (may be null).
  vmm::VcpuHooks* hooks = nullptr;
  absl::Duration boot_timeout = absl::Seconds(20);
  // Memory bounds for long runs (SmpRunResult::stalls): resolved slow stall
  // records kept, and stall / soft-lockup report texts kept. Counts are
  // always complete; the event log has every report.
  int max_stall_records = 1024;
  int kept_report_texts = 32;
  // JSON-lines events (may be null), each carrying "vm". The docs/events.md
  // schema: "vm_online", "stall" (one per csd report, plane "guest"),
  // "stall_cleared" (got unstuck), "soft_lockup" (with the full report),
  // "heartbeats" (every heartbeat_interval), "ipi_latency" (plane "guest",
  // cumulative, every guest stat_interval and once at the end; torture
  // workload only). Extras: "smp_start",
  // "scf_stats", "guest_error", "smp_end".
  EventLog* events = nullptr;
  // Period of the "heartbeats" event; zero = none.
  absl::Duration heartbeat_interval = absl::Seconds(1);
  // madvise guest RAM with MADV_HUGEPAGE / MADV_MERGEABLE (THP / KSM).
  bool hugepages = false;
  bool mergeable = false;
  // False: run without the watchdogs (no guest csd_lock_wait reports, no
  // soft-lockup checks, no heartbeat events), to measure what they cost.
  bool watchdogs = true;
  // Called on the owner thread at every watch poll while the VM runs (may be
  // null): host-side fault injection in tests, e.g. corrupting guest RAM.
  std::function<void(vmm::Machine&)> on_poll;
  // The modelled POWER host plane on this VM's vCPU threads (hostplane/host_plane.h)
  // when hostipi.enabled: its reports go to `out` and `events`, its counters
  // into SmpRunResult::host, and a LOST host-plane stall fails the run. Its
  // hooks take the place of `hooks` (set only one of them).
  HostIpiSpec hostipi;
};

// One csd_lock_wait stall episode (#N).
struct CsdStall {
  int number = 0;
  int waiter = -1;
  int target = -1;
  std::string func;       // symbolized callback, e.g. "scf_handler_1+0x0/0x50"
  std::string func_name;  // just the symbol name
  uint64_t info = 0;
  int64_t first_report_wait_ns = 0;  // wait when first reported
  absl::Duration detected_after;     // run time when first reported
  hostipi::TargetActivity activity = hostipi::TargetActivity::kNothing;
  hostipi::StallVerdict verdict = hostipi::StallVerdict::kSlow;
  std::string verdict_reason;
  int reports = 0;  // Detected + Continued
  bool unstuck = false;
  int64_t total_wait_ns = 0;  // when unstuck
  uint64_t resends = 0;
  bool target_snapshot_ok = false;
  std::string target_rip;    // symbolized RIP of the target at the first report
  std::string first_report;  // the whole first report as printed
};

struct SoftLockupRecord {
  int vcpu = -1;
  absl::Duration stuck_for;
  std::string rip;     // symbolized, empty when no snapshot
  std::string report;  // as printed
};

// Totals over all vCPUs, named after scftorture's stat line.
struct SmpStats {
  std::array<uint64_t, abi::kNumPrims> invoked{};   // ops per primitive
  std::array<uint64_t, abi::kNumCounters> count{};  // abi::SmpCounter totals
  uint64_t max_csd_wait_ns = 0;                     // longest csd_lock_wait, max over vCPUs
  int vcpus_finished = 0;
  // Guest-plane call latency (guest/abi.h CsdWaitLatency: one sample per
  // smp_call_function_*(wait=1) call with a remote target, entry to the last
  // csd seen unlocked), summed over the vCPUs; count == sum of the buckets.
  hostplane::LatencyHistogram latency;
};

// What a running SmpRunner has seen so far (SmpRunner::Live()).
struct SmpLive {
  bool online = false;  // every vCPU came online
  bool done = false;    // Run() returned
  SmpStats stats;
  int stalls_lost = 0;
  int stalls_other = 0;  // slow or still pending
  int soft_lockups = 0;
  std::vector<uint64_t> heartbeats;  // per vCPU, cumulative
  // The host plane's counters (all zero when it is off).
  hostipi::PlaneStats host;
  // The host plane's round-trip histogram (empty when it is off).
  hostplane::LatencyHistogram host_latency;
};

struct SmpRunResult {
  bool success = false;
  std::string failure_reason;  // empty on success
  // 0 for SUCCESS, 1 for FAILURE (the CLI's exit code).
  int exit_code() const { return success ? 0 : 1; }
  SmpStats stats;
  // Every lost or still open stall, and resolved slow ones up to
  // SmpRunOptions::max_stall_records (report texts for the first
  // kept_report_texts). The counts below cover every stall; the event log
  // holds every report.
  std::vector<CsdStall> stalls;
  int lost_stalls = 0;
  int slow_stalls = 0;
  int unresolved_stalls = 0;  // open at the end for >= the soft-lockup threshold
  std::vector<SoftLockupRecord> soft_lockups;  // every one; text for the first kept_report_texts
  std::vector<std::string> guest_errors;  // scftorture / stress --vm reports
  absl::Duration csd_timeout;
  absl::Duration soft_lockup_threshold;
  bool thresholds_calibrated = false;
  IpiLatency calibration;  // when calibrated
  uint64_t io_bytes_synced = 0;
  vmm::VmSummary vm;
  // The host plane (SmpRunOptions::hostipi.enabled): doorbells, csd calls,
  // round-trip histogram, LOST/SLOW stalls and the first reports.
  bool host_plane = false;
  hostplane::HostPlaneResult host;
};

// Checks `guest` against `vm` (errors name the profile field and the fix).
absl::Status ValidateGuestSpec(const GuestSpec& guest, const VmSpec& vm);

// The SmpParams the guest gets for `guest` on an n-vCPU VM.
abi::SmpParams MakeSmpParams(const GuestSpec& guest, int num_vcpus, absl::Duration csd_timeout);

// GuestSpec::ring with "auto" (-1) resolved for this machine's KVM: 3 on
// kvm_pvm, 0 on VMX and SVM.
int ResolveRing(int ring);

// The fields of the docs/events.md "vm_summary" event for `s` (per-vCPU rows
// included), for EventLog::Emit("vm_summary", ...).
nlohmann::json VmSummaryEventFields(const vmm::VmSummary& s);

// The fields of a docs/events.md "ipi_latency" event for `h` (plane, vm,
// unit, buckets [[upper_ns, count], ...] of the non-empty buckets, count,
// sum_ns, max_ns), for EventLog::Emit("ipi_latency", ...).
nlohmann::json LatencyEventFields(const hostplane::LatencyHistogram& h, const std::string& plane,
                                  const std::string& vm);

// scftorture's stat line for `s` ("scf_invoked_count ver: ... ste: ...").
std::string FormatScfStats(const SmpStats& s, bool done);

class SmpSession;

// One VM's guest workload, in two steps so a CLI can wire Ctrl-C before it
// runs: Create() validates `guest` against `vm`, calibrates the thresholds
// when the profile left them out (boots a 2-vCPU bench VM) and builds the
// VM; Run() boots it, watches it until `options.duration` ends (or every vCPU
// finished its ops, or RequestStop()), shuts it down and returns the result.
//
// Threading: Create/Run from one owner thread (Run pins it to the VM's
// emulatorpin). RequestStop() is async-signal-safe (atomic stores only) and
// may be called from any thread or a signal handler while the object lives.
class SmpRunner {
 public:
  static absl::StatusOr<std::unique_ptr<SmpRunner>> Create(const VmSpec& vm, const GuestSpec& guest,
                                                           const SmpRunOptions& options);
  ~SmpRunner();
  // Once. Setup errors were Create()'s; guest faults, stalls and check
  // failures are in the result (success = false).
  absl::StatusOr<SmpRunResult> Run();
  // Ends Run() soon, with the usual summary and End of test line.
  void RequestStop();
  // Live host-plane counters (doorbells, csd calls, stalls) for a status
  // line; zeros when the profile has no hostipi section or before it starts.
  // Any thread, while the runner lives.
  hostipi::PlaneStats HostPlaneStats() const;
  // A copy of the counters as of the last watch poll. Thread-safe.
  SmpLive Live() const;
  // Closes the current period of the guest's per-period csd wait maximum
  // (bumps SmpParams::window_epoch, guest/abi.h CsdWaitLatency) and returns
  // the longest sample (ns) completed in it over every vCPU; 0 when none, or
  // before the VM runs / after it stopped. A sample that ends as the period
  // closes may count in the next one instead, never in none. The periods
  // are the caller's: use one caller (e.g. a status line). Any thread.
  uint64_t EndWaitPeriod();
  // The same for the host plane's csd round trips (0 without a plane).
  uint64_t EndHostWaitPeriod();

 private:
  explicit SmpRunner(std::unique_ptr<SmpSession> impl);
  std::unique_ptr<SmpSession> impl_;
};

// Create + Run in one call.
// Runs one VM with `guest`'s workload for `options.duration` and watches it.
// Setup errors (bad spec, KVM) are returned as a status; guest faults,
// stalls and check failures are in the result (success = false).
absl::StatusOr<SmpRunResult> RunSmpWorkload(const VmSpec& vm, const GuestSpec& guest,
                                            const SmpRunOptions& options);

// `kvmbed run` / `kvmbed soak`: every VM of `run` with its guest
// (run.GuestFor), with run.thp/ksm, concurrently, for
// run.duration. Creates every runner first (a bad spec stops the run before
// anything starts); `on_created` (may be null) sees each runner before any
// runs, e.g. to register its RequestStop() for SIGINT. Output goes to `out`
// (null = stdout), each line prefixed "<vm>: " when there are several VMs.
// One result per VM, in run.vms order. `base_options` gives the rest of each
// runner's options (duration, out, events and madvise are set from the
// arguments and `run`). `on_finished` (may be null) runs once every Run()
// returned and before the runners are destroyed: drop every pointer that
// on_created handed out there (stop callbacks, status readers).
absl::StatusOr<std::vector<SmpRunResult>> RunGuestWorkloads(
    const RunSpec& run, std::function<void(const std::string&)> out = nullptr,
    EventLog* events = nullptr, const std::function<void(SmpRunner&)>& on_created = nullptr,
    const SmpRunOptions& base_options = SmpRunOptions(),
    const std::function<void()>& on_finished = nullptr);

}  // namespace runner
}  // namespace kvmbed

#endif  // KVMBED_RUNNER_SMP_RUN_H_
