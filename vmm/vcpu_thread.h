// One host thread per vCPU: named `vcpu-N`, pinned to its host CPU set,
// looping on KVM_RUN, servicing exits through a VcpuExitHandler, counting
// exits by reason and recording the host CPUs it actually ran on.
//
// Kick() forces the thread out of KVM_RUN (immediate_exit + a signal) with
// no lost-kick window; see the comment in vcpu_thread.cc for the ordering
// argument.
//
// Threading: Start(), Join() and the destructor are called by the owning
// thread (the Machine). Kick(), RequestStop(), InGuest(), Stats() and
// SampleHostCpu() are safe from any thread while the object lives; Kick() may
// be called until Join() returns (the pthread id stays valid until joined).
// Kick() and RequestStop() are async-signal-safe.
#ifndef KVMBED_VMM_VCPU_THREAD_H_
#define KVMBED_VMM_VCPU_THREAD_H_

#include <pthread.h>
#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "vmm/kvm.h"
#include "vmm/vcpu_hooks.h"

namespace kvmbed {
namespace vmm {

// Services exits other than KVM_EXIT_INTR, in the vCPU thread.
class VcpuExitHandler {
 public:
  virtual ~VcpuExitHandler() = default;
  // Returns true to re-enter the guest, false to stop this vCPU cleanly, or
  // an error (which stops this vCPU and is reported via OnVcpuStopped).
  virtual absl::StatusOr<bool> HandleExit(Vcpu& vcpu, uint32_t exit_reason) = 0;
  // Called once in the vCPU thread when its loop ends: OK for a requested or
  // clean stop, the error otherwise.
  virtual void OnVcpuStopped(int vcpu, const absl::Status& status) = 0;
};

// A snapshot of one vCPU thread's counters.
struct VcpuThreadStats {
  pid_t tid = 0;
  std::vector<int> affinity_in_force;  // read back in the thread after pinning
  std::vector<int> ran_on;             // host CPUs seen (sched_getcpu, /proc)
  std::map<std::string, uint64_t> exits;  // by ExitReasonName
  uint64_t runs = 0;                   // KVM_RUN calls
  uint64_t kicks_sent = 0;             // Kick() calls
  uint64_t kicks_seen = 0;             // exits that consumed a pending kick
};

// A vCPU's registers as its own thread read them at an exit.
struct VcpuRegisters {
  kvm_regs regs{};
  kvm_sregs sregs{};
};

// The signal used for kicks: SIGUSR2, a standard signal, so that pending
// kicks coalesce into one (see "Why a storm of kicks cannot starve a vCPU
// thread" in vcpu_thread.cc); its handler does nothing.
int KickSignal();

class VcpuThread {
 public:
  // `vcpu`, `handler` and `hooks` (may be null) must outlive this object.
  VcpuThread(Vcpu* vcpu, std::vector<int> affinity, VcpuExitHandler* handler,
             VcpuHooks* hooks);
  ~VcpuThread();  // RequestStop() + Join()
  VcpuThread(const VcpuThread&) = delete;
  VcpuThread& operator=(const VcpuThread&) = delete;

  // Spawns the thread, born on its CPU set; returns without waiting for it.
  absl::Status Start();
  // Waits until the started thread has pinned itself and read its affinity
  // back; its error if pinning failed. Start many threads, then wait for all.
  absl::Status WaitPinned();
  // Forces the thread out of KVM_RUN soon; never lost (see .cc).
  void Kick();
  // Asks the loop to end at its next exit, and kicks.
  void RequestStop();
  // Waits for the thread to end (idempotent).
  void Join();

  int id() const { return vcpu_->id(); }
  // True while the thread is inside (or entering/leaving) KVM_RUN.
  bool InGuest() const { return in_guest_.load(std::memory_order_seq_cst); }
  // True once the loop has ended (stopped, finished or failed).
  bool Finished() const { return finished_.load(std::memory_order_acquire); }
  // The vCPU's registers: kicks the thread and has it read them at its next
  // exit (KVM_GET_REGS from another thread would block until KVM_RUN
  // returns). For stall reports. DeadlineExceeded if the thread does not get
  // there within `timeout`; read directly once the thread has finished.
  // Safe from any thread (not from a signal handler).
  absl::StatusOr<VcpuRegisters> CaptureRegisters(absl::Duration timeout);
  // Records the CPU the thread last ran on, read from /proc (works while the
  // thread sits in KVM_RUN, where it cannot sample itself).
  void SampleHostCpu();
  VcpuThreadStats Stats() const;

 private:
  static void* ThreadMain(void* self);
  void Loop();
  void NoteCpu(int cpu);

  static constexpr int kMaxExitReason = 64;
  static constexpr int kCpuWords = 16;  // 1024 host CPUs

  Vcpu* const vcpu_;
  const std::vector<int> affinity_;
  VcpuExitHandler* const handler_;
  VcpuHooks* const hooks_;

  pthread_t thread_{};
  std::atomic<bool> started_{false};
  bool joined_ = false;  // owner thread only
  // Join() sets joining_ and waits for kicks_in_flight_ == 0 before joining,
  // so Kick() never signals a joined (possibly reused) pthread id. Both
  // seq_cst: either Kick sees joining_ or Join sees the in-flight kick.
  std::atomic<bool> joining_{false};
  std::atomic<int> kicks_in_flight_{0};
  absl::Notification pinned_;
  absl::Status pin_status_;  // written before pinned_ is notified

  std::atomic<bool> kick_pending_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> in_guest_{false};
  std::atomic<bool> finished_{false};
  std::atomic<pid_t> tid_{0};

  std::array<std::atomic<uint64_t>, kMaxExitReason + 1> exit_counts_{};
  std::array<std::atomic<uint64_t>, kCpuWords> ran_on_{};
  std::atomic<uint64_t> runs_{0};
  std::atomic<uint64_t> kicks_sent_{0};
  std::atomic<uint64_t> kicks_seen_{0};
  mutable absl::Mutex mu_;
  std::vector<int> affinity_in_force_ ABSL_GUARDED_BY(mu_);

  // Register capture: requesters bump capture_requested_gen_ and kick; the
  // vCPU thread answers at its next exit with capture_done_gen_.
  void AnswerCapture();
  std::atomic<bool> capture_pending_{false};
  absl::Mutex capture_mu_;
  absl::CondVar capture_cv_;
  uint64_t capture_requested_gen_ ABSL_GUARDED_BY(capture_mu_) = 0;
  uint64_t capture_done_gen_ ABSL_GUARDED_BY(capture_mu_) = 0;
  absl::StatusOr<VcpuRegisters> capture_ ABSL_GUARDED_BY(capture_mu_);
};

// Checks before a vCPU thread is spawned that every host CPU in `cpus` can
// take it: online (per `online_path`, normally
// /sys/devices/system/cpu/online) and in the calling thread's allowed set
// (taskset, a cgroup cpuset). A FailedPrecondition host error (IsHostError)
// naming the CPUs that cannot, and why, otherwise. VcpuThread::Start() calls
// it with the default path.
absl::Status CheckHostCpusUsable(int vcpu, const std::vector<int>& cpus,
                                 const std::string& online_path = "/sys/devices/system/cpu/online");

// Formats CPU numbers the libvirt way: "0-3,6" (base/cpuset.h), or "-"
// for none.
std::string FormatCpuList(const std::vector<int>& cpus);

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_VCPU_THREAD_H_
