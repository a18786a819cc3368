// The modelled POWER host-IPI path (arch/powerpc smp.c + dbell.c + KVM HV):
//
//   per host CPU  kvm_hstate.host_ipi, ipi_message (one word, four muxed
//                 messages, one byte each: the set is a plain, bufferable
//                 byte store, as on powerpc), a
//                 call_single_queue of csds, cur_csd, a msgsnd doorbell latch
//   sender        smp_muxed_ipi_set_message -> kvmppc_set_host_ipi ->
//                 msgsnd sync -> msgsnd (the doorbell)
//   receiver      in the guest: a doorbell exits; host_ipi set -> host
//                 doorbell_exception (clear host_ipi, demux, run the queue);
//                 host_ipi clear -> the doorbell is the guest's, ignored.
//                 In host mode a pending doorbell is handled at interrupt
//                 points (doorbell_exception), e.g. in csd_lock_wait.
//   csd           smp_call_function_many/single, csd_lock_wait with
//                 kernel-like stall reports and a LOST/SLOW verdict.
// Barrier sites follow a KernelModel; memory goes through CpuMemory, so the
// same code runs natively and under the emulated POWER store buffer.
//
// Host-CPU interface for a real vCPU thread (hostplane/host_plane.h): call EnterGuest() before
// KVM_RUN, ExitPath() after KVM_RUN returned because of a kick, and
// InterruptPoint() at points where the host could take an interrupt; set
// Options::kick so a doorbell kicks the thread out of KVM_RUN. A plain
// modelled CPU uses RunGuest() instead (a loop of Relax() polling the latch).
//
// Threading: one HostIpiPlane is shared by all modelled CPUs. Per-CPU entry
// points (taking a CpuMemory&) must be called only by that CPU's own
// thread/coroutine. Observers (InGuest, stats, TotalDoorbells) may be called
// from any thread. The StallSink and Options::kick are called on the
// sending/waiting CPU's thread; in emulated mode that is a coroutine, so they
// must not block (an uncontended mutex is fine) nor call CpuMemory.
//
// A vCPU thread, sketched:
//   plane.Attach(mem);
//   for (;;) {
//     plane.EnterGuest(mem);
//     ioctl(KVM_RUN);                       // Options::kick interrupts it
//     plane.ExitPath(mem);                  // no-op if no doorbell pending
//     ...handle the exit; plane.InterruptPoint(mem) where irqs are on...
//   }
#ifndef KVMBED_HOSTIPI_HOST_IPI_H_
#define KVMBED_HOSTIPI_HOST_IPI_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "hostipi/kernel_model.h"
#include "hostipi/memory_model.h"
#include "hostipi/muxed_ipi.h"
#include "hostipi/stall_report.h"
#include "hostipi/trace.h"

namespace kvmbed {
namespace hostipi {

// Functions a csd may carry (the modelled callers' func pointers).
enum CsdFunc : int { kDoNothing = 0, kFlushTlb = 1, kNumCsdFuncs = 2 };
const char* CsdFuncName(int func);

constexpr int kMaxCpus = 64;  // the call_single_queue is a bitmask of senders

enum class StallAction { kKeepWaiting, kResend, kAbort };
using StallSink = std::function<StallAction(const StallReport&)>;

// Counters of one run (observer view; exact once the run is over).
struct PlaneStats {
  int64_t doorbells_sent = 0;
  int64_t doorbells_taken_in_guest = 0;
  int64_t doorbells_ignored = 0;  // taken in guest with host_ipi == 0
  int64_t doorbells_taken_in_host = 0;
  int64_t messages_handled[kNumMessages] = {0, 0, 0, 0};
  int64_t csds_run = 0;
  int64_t peeks_saw_zero = 0;  // demux=peek: doorbells handled with no messages
  int64_t calls_completed = 0;  // csd_lock_wait()s that finished
  int64_t stalls_lost = 0;      // stall episodes, worst verdict LOST
  int64_t stalls_slow = 0;      // stall episodes that were only SLOW
  int64_t max_wait_ns = 0;      // longest finished csd_lock_wait
};

class HostIpiPlane {
 public:
  struct Options {
    int num_cpus = 2;
    KernelModel model;
    OrderingMode mode = OrderingMode::kNative;
    // csd_lock_wait() reports after this long (NowNs units: ns natively,
    // virtual ticks emulated), then again every threshold ("Continued").
    int64_t stall_threshold_ns = 100'000'000;
    StallSink sink;  // may be empty: stalls are only counted
    // Called after a doorbell latch was set (e.g. kick a vCPU thread out of
    // KVM_RUN). May be empty for modelled CPUs that poll the latch.
    std::function<void(int cpu)> kick;
    // Cost of the RESCHEDULE handler (scheduler_ipi()) in Relax()
    // iterations: real handlers take time, and the demux re-reads the
    // messages after them.
    int64_t resched_handler_relax = 0;
    // Cost of leaving the guest in Relax() iterations: between noticing a
    // doorbell in the guest and the exit path reading host_ipi.
    int64_t exit_latency_relax = 0;
    // Trace lines per involved CPU in a report.
    int trace_events_per_cpu = 24;
    // kNative CPUs whose CpuMemory keeps a store buffer (ThreadStoreBuffers):
    // reports then list the stores still buffered when the target took the
    // doorbell and read its messages, as in kEmulatedPower.
    bool thread_store_buffers = false;
  };

  // Checks the options; the error names the field and the fix.
  static absl::Status Validate(const Options& options);
  // A plane for valid options (Validate() first when they come from users).
  explicit HostIpiPlane(Options options);
  HostIpiPlane(const HostIpiPlane&) = delete;
  HostIpiPlane& operator=(const HostIpiPlane&) = delete;

  const Options& options() const { return options_; }

  // Registers the CpuMemory of mem.cpu(); the first call of each CPU body.
  void Attach(CpuMemory& mem);

  // ---- sender side (on the sending CPU) ----
  // smp_muxed_ipi_message_pass(): set the message, then the doorbell.
  void MessagePass(CpuMemory& mem, int target, IpiMessage message);
  // smp_send_reschedule().
  void SendReschedule(CpuMemory& mem, int target) {
    MessagePass(mem, target, kReschedule);
  }
  // smp_call_function_many(): queue a csd on every CPU in target_mask
  // (bit i = CPU i, the caller excluded), IPI those whose queue was empty,
  // and with `wait` csd_lock_wait() on each. False if the run stopped or a
  // stall was aborted by the sink.
  bool CallFunctionMany(CpuMemory& mem, uint64_t target_mask, CsdFunc func,
                        uint64_t info, bool wait);
  // smp_call_function_single().
  bool CallFunctionSingle(CpuMemory& mem, int target, CsdFunc func,
                          uint64_t info, bool wait) {
    return CallFunctionMany(mem, uint64_t{1} << target, func, info, wait);
  }

  // ---- receiver side (on the CPU itself) ----
  // Marks the CPU as in the guest (just before KVM_RUN).
  void EnterGuest(CpuMemory& mem);
  // The POWER exit path after leaving the guest because of a doorbell:
  // takes the latch, reads host_ipi; set -> doorbell_exception() in host
  // mode; clear -> ignored. Leaves the CPU in host mode. Returns true if a
  // doorbell was taken.
  bool ExitPath(CpuMemory& mem);
  // Host mode: handles a pending doorbell (doorbell_exception()).
  void InterruptPoint(CpuMemory& mem);
  enum class GuestExit { kOwnExit, kStop };
  // Runs a modelled guest: Relax() loops for `slice` iterations, taking
  // doorbells through ExitPath() (and re-entering) as they come; then a
  // guest exit of its own (page fault). Returns in host mode.
  GuestExit RunGuest(CpuMemory& mem, int64_t slice);

  // Emulated runs: pass every memory-model trace event here
  // (RunOptions::trace) so reports show when a store traced as buffered
  // became visible (the seed's "RE-ORDERED STORE COMPLETES"). Runs on the
  // coroutine of the CPU concerned; no CpuMemory calls.
  void OnMemoryEvent(const MemoryTraceEvent& e);

  // ---- observers (any thread) ----
  bool InGuest(int cpu) const;
  int64_t TotalDoorbells() const;
  PlaneStats Stats() const;
  // Formats the CPU-by-CPU trace of `cpus` (oldest first, merged by time).
  std::vector<std::string> FormatTrace(const std::vector<int>& cpus,
                                       int per_cpu) const;

  // Test hook: the CPU delays every doorbell_exception() by `relax`
  // Relax() iterations without taking interrupts (a slow, not lost, CPU).
  void SetHandlerDelayForTest(int cpu, int64_t relax);

 private:
  struct Csd {
    SharedWord flags;  // CSD_FLAG_LOCK
    SharedWord func;
    SharedWord info;
  };
  // Owner-written, observer-read facts about one doorbell / demux.
  struct DoorbellRecord {
    std::atomic<int64_t> t{-1};         // Stamp() units; -1 = none yet
    std::atomic<uint64_t> host_ipi{0};  // the value the exit path read
    std::atomic<uint64_t> messages{0};  // message bits: seen / demuxed
  };
  struct alignas(64) Cpu {
    SharedWord host_ipi;
    SharedWord message;  // ipi_message: byte m = message m (StoreByte)
    SharedWord queue;    // call_single_queue: bit s = csd[s][this] queued
    // msgsnd: each doorbell Signal()s a new unique value, (sender+1)<<48 |
    // the sender's sequence; a doorbell is pending while the value differs
    // from the last one this CPU took. Taking it is no memory operation
    // (as on POWER), and a racing msgsnd is never dropped.
    SharedWord doorbell;
    std::atomic<uint64_t> doorbell_taken{0};  // owner writes, observers read
    std::vector<std::unique_ptr<Csd>>
        csd_to;  // csd_to[t]: this CPU's csd for t
    CpuMemory* mem = nullptr;
    // Observer state, written only by the owner (relaxed).
    std::atomic<bool> in_guest{false};
    std::atomic<int> cur_csd{-1};     // sender of the csd being run
    std::atomic<int> sending_to{-1};  // mid message pass to this CPU
    std::atomic<int64_t> doorbells_sent{0};
    std::atomic<int64_t> taken_guest{0};
    std::atomic<int64_t> ignored{0};
    std::atomic<int64_t> taken_host{0};
    std::atomic<int64_t> handled[kNumMessages];
    std::atomic<int64_t> csds_run{0};
    std::atomic<int64_t> peek_zero{0};
    std::atomic<int64_t> calls_completed{0};
    std::atomic<int64_t> max_wait{0};
    std::atomic<int64_t> handler_delay{0};
    DoorbellRecord last_doorbell;  // last doorbell taken in the guest
    DoorbellRecord last_handled;   // last doorbell_exception()
    TraceRing trace;
    // Emulated only: every CPU's buffered stores when this CPU last took a
    // doorbell in the guest / last cleared host_ipi.
    absl::Mutex mu;
    std::vector<std::string> buffered_at_doorbell ABSL_GUARDED_BY(mu);
    std::vector<std::string> buffered_at_clear ABSL_GUARDED_BY(mu);
    // The trace up to the last doorbell ignored while CALL_FUNCTION was set,
    // frozen then (suspect_t = its stamp). With the fixed model that never
    // happens (unless a sender is mid message pass), with a buggy one it is
    // (nearly always) the loss itself, so the copy costs nothing natively.
    std::vector<TraceEvent> suspect_events ABSL_GUARDED_BY(mu);
    // Emulated only (one OS thread): this CPU's stores traced as buffered
    // and not yet visible: bit t = host_ipi[t]; pending_message[m] bit t =
    // ipi_message[t] byte m.
    uint64_t pending_host_ipi = 0;
    uint64_t pending_message[kNumMessages] = {0, 0, 0, 0};
    int64_t suspect_t ABSL_GUARDED_BY(mu) = -1;
  };

  bool Emulated() const {
    return options_.mode == OrderingMode::kEmulatedPower;
  }
  // Whether CPUs have store buffers whose contents the reports show.
  bool HasStoreBuffers() const {
    return Emulated() || options_.thread_store_buffers;
  }
  void Trace(CpuMemory& mem, TraceKind kind, uint64_t a = 0, uint64_t b = 0,
             bool flag = false);
  std::vector<std::string> AllBufferedStores() const;
  // Trace/record timestamps: NowNs() emulated, the TSC natively.
  int64_t Stamp(CpuMemory& mem) const;
  int64_t StampToNs(int64_t delta) const;
  bool TakeDoorbell(CpuMemory& mem);
  void DoorbellException(CpuMemory& mem);
  void Demux(CpuMemory& mem, bool trace_clear);
  void FlushQueue(CpuMemory& mem);
  bool CsdLockWait(CpuMemory& mem, int target, CsdFunc func, uint64_t info);
  StallReport BuildReport(CpuMemory& mem, int target, CsdFunc func,
                          uint64_t info, int64_t waited, int number,
                          bool first);
  std::string FormatEvent(const TraceEvent& e) const;
  // Events of `cpus` about `focus` (its receiver side, others' sends to
  // it), the last per_cpu of each newer than `since`, merged by time.
  std::vector<TraceEvent> CollectEvents(const std::vector<int>& cpus, int focus,
                                        int per_cpu, int64_t since) const;
  std::vector<std::string> FormatEvents(
      const std::vector<TraceEvent>& events) const;

  Options options_;
  std::deque<std::string> names_;  // storage for SharedWord::name
  // host_ipi / ipi_message words -> (their CPU, 4 = host_ipi / 0 = message).
  absl::flat_hash_map<const SharedWord*, std::pair<int, int>> word_ids_;
  std::vector<std::unique_ptr<Cpu>> cpus_;
  int64_t steady0_ = 0;
  int64_t tsc0_ = 0;
  mutable absl::Mutex clock_mu_;
  mutable double ns_per_tick_ ABSL_GUARDED_BY(clock_mu_) = 0;
  std::atomic<int> next_report_{1};
  std::atomic<int64_t> stalls_lost_{0};
  std::atomic<int64_t> stalls_slow_{0};
};

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_HOST_IPI_H_
