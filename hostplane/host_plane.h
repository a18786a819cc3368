// The host plane on real KVM vCPU threads (docs/DESIGN.md "Two planes of IPIs"):
// every vCPU thread of one VM is a modelled POWER host CPU of hostipi's
// protocol. A msgsnd to it is its vmm::VcpuThread::Kick(); after KVM_RUN returns
// the thread runs hostipi's exit path (host_ipi set -> clear, demux, run the
// host call_single_queue; clear -> the doorbell is the guest's, ignored, back
// into the guest). Senders mirror the seed (001/003): ksmd-like host threads
// (extra modelled CPUs, plain pinned threads) calling smp_call_function_many
// on the vCPU-thread CPUs, and vCPU threads that, while handling a guest IO
// exit (the seed's KVM page-fault path), call the other CPUs and wait.
// RESCHEDULE and CALL_FUNCTION are interleaved.
//
// Modelled CPU numbers: CPU i < num_vcpus is vCPU i of the VM; CPUs
// num_vcpus.. are the ksmd threads.
//
// Stall reports come from hostipi's csd_lock_wait (LOST/SLOW) with the VM,
// the vCPU ids and, for a target vCPU in the guest, its registers with the
// RIP symbolized; they go to `out` and to the event log as `stall` /
// `stall_cleared` events (docs/events.md, plane "host").
//
// Lifecycle: Create() -> install as vmm::MachineOptions::hooks (or chained, e.g.
// SmpRunOptions::hooks) -> vmm::Machine::Create -> Attach(machine) -> machine
// Start/WaitOnline -> Start() (calibrates, starts the ksmd threads) -> ...
// -> StopSenders() -> vmm::Machine::Shutdown() -> Join() -> Result(). The ksmd
// threads kick vCPU threads, so they must be gone before the vmm::Machine frees
// them.
//
// Threading: Create/Attach/Start/Join/Result from one owner thread.
// RequestStop(), Stats() and the test hooks from any thread. AfterExit and
// BeforeEntry run in the vCPU threads (vmm::VcpuHooks contract).
#ifndef KVMBED_HOSTPLANE_HOST_PLANE_H_
#define KVMBED_HOSTPLANE_HOST_PLANE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/event_log.h"
#include "base/reproduction.h"
#include "hostplane/host_plane_spec.h"
#include "vmm/vm_spec.h"
#include "hostipi/host_ipi.h"
#include "hostipi/kernel_model.h"
#include "vmm/vcpu_hooks.h"

namespace kvmbed {
namespace vmm {
class Machine;
}  // namespace vmm

namespace hostplane {

struct HostPlaneOptions {
  std::string vm_name;
  int num_vcpus = 1;
  hostipi::KernelModel model;
  // kNative: this machine's ordering. kEmulatedPower: every modelled CPU's
  // stores go through a hostipi::ThreadStoreBuffers store buffer that holds
  // an unfenced store up to store_hold (memory_model.h).
  hostipi::OrderingMode ordering = hostipi::OrderingMode::kNative;
  absl::Duration store_hold = absl::Milliseconds(1);
  int ksmd_threads = 1;
  std::vector<int> ksmd_cpus;  // empty = not pinned
  absl::Duration ksmd_pause = absl::Microseconds(200);
  bool vcpu_exit_calls = true;
  double exit_call_probability = 0.5;
  double resched_fraction = 0.5;
  // RESCHEDULEs sent back to back before a call when one is sent.
  int resched_burst = 1;
  // Zero = calibrated by Start() from this VM's doorbell round trips.
  absl::Duration stall_threshold = absl::ZeroDuration();
  bool resend_on_stall = false;
  // Stop the plane (RequestStop) at the first LOST report (reproductions).
  bool stop_on_lost = false;
  // Fault injection: Start() arms DropNextHostIpiSetForTest(this); -1 = off.
  int drop_host_ipi_vcpu = -1;
  uint64_t seed = 1;
  // Where reports go (whole blocks); null = stdout.
  std::function<void(const std::string&)> out;
  EventLog* events = nullptr;  // may be null
  // How long a report waits for the target vCPU's registers.
  absl::Duration register_timeout = absl::Milliseconds(200);
};

// Builds options from the profile's section (errors name the field and fix).
absl::StatusOr<HostPlaneOptions> HostPlaneOptionsFromSpec(const HostIpiSpec& spec,
                                                          const VmSpec& vm);
// Checks a HostIpiSpec alone: store hold, ranges, senders (the kernel model
// and ordering are typed, parsed where the profile or flag was read).
absl::Status ValidateHostIpiSpec(const HostIpiSpec& spec);

// A log2 histogram of csd round trips (ns), bucket b holds (2^(b-1), 2^b].
struct LatencyHistogram {
  std::array<int64_t, 48> counts{};
  int64_t count = 0;
  int64_t sum_ns = 0;
  int64_t max_ns = 0;
  // The median's bucket bound (ns), 0 when empty.
  int64_t ApproxQuantile(double q) const;
};

struct HostPlaneResult {
  std::string vm_name;
  std::string kernel_model;  // KernelModel::ToString()
  absl::Duration threshold;
  bool threshold_calibrated = false;
  std::string threshold_source;
  hostipi::PlaneStats stats;  // doorbells sent/taken/ignored, csds, waits
  int64_t calls = 0;          // csd calls (smp_call_function_many with wait)
  int64_t exit_calls = 0;     // of those, from vCPU exit handlers
  LatencyHistogram latency;   // csd round trips of those calls
  int64_t lost = 0;           // stall episodes with a LOST verdict
  int64_t slow = 0;
  std::string first_lost_report;
  std::string first_report;
  double seconds = 0;  // Start() -> RequestStop()
  double seconds_to_lost = 0;     // Start() -> first LOST report
  int64_t doorbells_to_lost = 0;  // doorbells sent until then
  // Kick latency (Kick() -> the vCPU thread in its exit hook) when calibrated.
  int64_t kick_p50_ns = 0;
  int64_t kick_p99_ns = 0;
  int64_t kick_max_ns = 0;
  // Memory ordering and, when emulated, the store buffers' counters.
  hostipi::OrderingMode ordering = hostipi::OrderingMode::kNative;
  absl::Duration store_hold;
  hostipi::ThreadStoreBuffers::Stats store_buffers;
};

class HostPlane : public vmm::VcpuHooks {
 public:
  static absl::StatusOr<std::unique_ptr<HostPlane>> Create(const HostPlaneOptions& options);
  ~HostPlane() override;  // RequestStop() + Join()

  // Connects the plane to the VM (kick = its vCPU thread's Kick()). Once,
  // after vmm::Machine::Create, before the vCPU threads start.
  void Attach(vmm::Machine* machine);
  // Calibrates the threshold when it is zero (doorbell round trips to the
  // vCPUs, which must be online) and starts the ksmd threads.
  absl::Status Start();
  // Ends every csd wait and sender soon. Any thread; async-signal-safe.
  void RequestStop();
  // RequestStop() and joins the ksmd threads. Before vmm::Machine::Shutdown().
  void StopSenders();
  // StopSenders() if not done, then makes the last buffered stores visible.
  // After vmm::Machine::Shutdown() (no vCPU thread runs plane code any more).
  void Join();
  HostPlaneResult Result() const;
  // Live counters (any thread).
  hostipi::PlaneStats Stats() const;
  // The `ipi_latency` event (plane "host") of the round trips so far.
  void EmitLatencyEvent() const;
  // One line: doorbells sent/taken/ignored, calls, max wait, stalls.
  std::string FormatStatsLine() const;

  // vmm::VcpuHooks: the exit path and the exit-handler senders.
  void AfterExit(int vcpu, uint32_t exit_reason, bool kick_pending) override;
  void BeforeEntry(int vcpu) override;

  // Test hook: the next store of host_ipi[cpu] = 1 by any sender is dropped
  // (as if the reordered clear had overwritten it), so the doorbell that
  // follows finds host_ipi == 0: a forced lost IPI.
  void DropNextHostIpiSetForTest(int cpu);
  // Test hook: stop the ksmd threads' own calls (custom senders only).
  hostipi::HostIpiPlane& plane() { return *plane_; }
  // Runs `body` as an extra sender on ksmd thread slot `slot`'s CPU memory
  // instead of the built-in ksmd loop (reproductions). Before Start().
  using SenderBody = std::function<void(hostipi::HostIpiPlane& plane, hostipi::CpuMemory& mem,
                                        HostPlane& self)>;
  void SetSenderBodyForTest(SenderBody body) { sender_body_ = std::move(body); }
  bool StopRequested() const { return stop_.load(std::memory_order_relaxed); }
  // Records one csd round trip (ns) in the histogram.
  void RecordRoundTrip(int64_t ns, bool from_exit);
  // The longest round trip recorded since the previous call (0 = none), and
  // starts a new period. Any thread; one caller owns the periods.
  int64_t TakePeriodMaxNs() { return period_max_.exchange(0, std::memory_order_relaxed); }
  int num_vcpus() const { return options_.num_vcpus; }

  class ThreadMemory;  // CpuMemory of one vCPU or ksmd thread (host_plane.cc)

 private:
  explicit HostPlane(const HostPlaneOptions& options);
  hostipi::StallAction OnStall(const hostipi::StallReport& report);
  void KsmdLoop(int cpu);
  absl::StatusOr<int64_t> CalibrateNs();
  void Emit(const std::string& text) const;
  std::string CpuName(int cpu) const;

  HostPlaneOptions options_;
  std::unique_ptr<hostipi::HostIpiPlane> plane_;
  // kEmulatedPower only; destroyed after mem_ and before plane_'s words.
  std::unique_ptr<hostipi::ThreadStoreBuffers> buffers_;
  std::vector<std::unique_ptr<ThreadMemory>> mem_;  // one per modelled CPU
  std::atomic<vmm::Machine*> machine_{nullptr};
  std::atomic<bool> stop_{false};
  std::atomic<bool> plane_ready_{false};  // plane_ built (Start)
  // Calibration: while calibrating_, vCPU v's first exit after a kick
  // records its time in calib_seen_[v] (0 = not yet).
  std::atomic<bool> calibrating_{false};
  std::unique_ptr<std::atomic<int64_t>[]> calib_seen_;
  int64_t kick_p50_ns_ = 0;
  int64_t kick_p99_ns_ = 0;
  int64_t kick_max_ns_ = 0;
  std::atomic<int> drop_host_ipi_of_{-1};  // test hook
  std::atomic<int64_t> threshold_ns_{0};
  std::vector<std::thread> ksmd_;
  SenderBody sender_body_;
  absl::Time started_ = absl::InfinitePast();
  std::atomic<int64_t> stopped_ns_{0};  // steady clock; RequestStop() is signal-safe
  bool calibrated_ = false;
  std::string threshold_source_;

  std::array<std::atomic<int64_t>, 48> hist_{};
  std::atomic<int64_t> hist_sum_{0};
  std::atomic<int64_t> hist_max_{0};
  std::atomic<int64_t> period_max_{0};
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> exit_calls_{0};

  mutable absl::Mutex mu_;
  std::string first_lost_report_ ABSL_GUARDED_BY(mu_);
  std::string first_report_ ABSL_GUARDED_BY(mu_);
  absl::Time lost_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t doorbells_at_lost_ ABSL_GUARDED_BY(mu_) = 0;
  mutable absl::Mutex out_mu_;

  friend class ThreadMemory;
};


}  // namespace hostplane
}  // namespace kvmbed

#endif  // KVMBED_HOSTPLANE_HOST_PLANE_H_
