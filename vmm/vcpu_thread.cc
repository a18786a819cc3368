#include "vmm/vcpu_thread.h"

#include "base/cpuset.h"

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kvmbed {
namespace vmm {

namespace {

void KickHandler(int) {}  // the signal's only job is to interrupt KVM_RUN

void InstallKickHandlerOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = KickHandler;
    sigemptyset(&sa.sa_mask);
    // No SA_RESTART needed for KVM_RUN (it returns EINTR regardless); set it
    // so other syscalls of a vCPU thread are not disturbed by kicks.
    sa.sa_flags = SA_RESTART;
    sigaction(KickSignal(), &sa, nullptr);
  });
}

}  // namespace

// Why a storm of kicks cannot starve a vCPU thread.
//
// A real-time signal is queued once per pthread_kill. Kickers that kick in a
// loop (host-plane senders, ksmd threads, a test's kicker) can then queue
// signals faster than the vCPU thread runs their handlers: each delivery is a
// kernel round trip, and on a slow KVM (nested, under QEMU TCG) it costs more
// than the pthread_kill that queued it. The thread, back from KVM_RUN, spends
// its time draining the queue and almost never reaches its loop again: 100
// kicks were not seen in 20 s, with the process's SigQ in the thousands.
// A standard signal is not queued: while one instance is pending, another
// pthread_kill of it changes nothing. So each return from KVM_RUN runs at
// most one handler, and no kick is lost by the coalescing: a kick whose
// signal merged with a pending one is either seen through kick_pending and
// immediate_exit (the proof below), or that pending signal makes the current
// or next KVM_RUN return EINTR, and the kernel's siglock orders the kicker's
// earlier stores before the handler and so before the thread's read of
// kick_pending.
int KickSignal() { return SIGUSR2; }

absl::Status CheckHostCpusUsable(int vcpu, const std::vector<int>& cpus,
                                 const std::string& online_path) {
  absl::StatusOr<std::vector<int>> allowed = ProcessCpus();
  if (!allowed.ok()) return MarkHostError(allowed.status());
  // The online CPUs, when the kernel says (a missing file proves nothing).
  std::vector<int> online;
  bool know_online = false;
  {
    std::ifstream in(online_path);
    std::stringstream text;
    if (in && (text << in.rdbuf())) {
      std::string t = text.str();
      while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
      CpusetError error;
      know_online = ParseCpuset(t, &online, &error);
    }
  }
  std::vector<int> offline, outside;
  for (int c : cpus) {
    if (c < 0 || c >= CPU_SETSIZE) {
      outside.push_back(c);
    } else if (know_online && std::find(online.begin(), online.end(), c) == online.end()) {
      offline.push_back(c);
    } else if (std::find(allowed->begin(), allowed->end(), c) == allowed->end()) {
      outside.push_back(c);
    }
  }
  if (offline.empty() && outside.empty()) return absl::OkStatus();
  std::string msg = absl::StrCat("cannot pin vcpu-", vcpu, " to host CPUs ", FormatCpuList(cpus),
                                 ":");
  if (!offline.empty()) {
    absl::StrAppend(&msg, " host CPU(s) ", FormatCpuList(offline), " offline (online: ",
                    FormatCpuList(online), ");");
  }
  if (!outside.empty()) {
    absl::StrAppend(&msg, " host CPU(s) ", FormatCpuList(outside),
                    " not in this process's CPU set (", FormatCpuList(*allowed),
                    ": taskset or a cgroup cpuset);");
  }
  absl::StrAppend(&msg, " pin the VM's vCPUs to CPUs it may use (vcpu_affinity), or run "
                        "kvmbed with those CPUs online and allowed");
  return MarkHostError(absl::FailedPreconditionError(msg));
}

std::string FormatCpuList(const std::vector<int>& cpus) {
  return cpus.empty() ? "-" : FormatCpuset(cpus);
}

VcpuThread::VcpuThread(Vcpu* vcpu, std::vector<int> affinity,
                       VcpuExitHandler* handler, VcpuHooks* hooks)
    : vcpu_(vcpu), affinity_(std::move(affinity)), handler_(handler), hooks_(hooks) {}

VcpuThread::~VcpuThread() {
  RequestStop();
  Join();
}

absl::Status VcpuThread::Start() {
  if (started_) return absl::FailedPreconditionError("vCPU thread already started");
  InstallKickHandlerOnce();
  cpu_set_t set;  // the thread is born on it (pthread_attr_setaffinity_np below)
  CPU_ZERO(&set);
  for (int c : affinity_) {
    if (c < 0 || c >= CPU_SETSIZE) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vCPU ", id(), ": host CPU ", c, " is outside 0..", CPU_SETSIZE - 1));
    }
    CPU_SET(c, &set);
  }
  if (affinity_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("vCPU ", id(), ": empty host CPU set (VmSpec.vcpu_affinity)"));
  }
  // Refuse a CPU that is offline or outside our CPU set with a clear error
  // (pthread_create would only say EINVAL).
  absl::Status usable = CheckHostCpusUsable(id(), affinity_);
  if (!usable.ok()) return usable;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  // Born on its CPU set, so it never runs elsewhere, even before it pins.
  pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
  int err = pthread_create(&thread_, &attr, &VcpuThread::ThreadMain, this);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    return MarkHostError(absl::ErrnoToStatus(
        err, absl::StrCat("pthread_create vcpu-", id(), " on CPUs ", FormatCpuList(affinity_))));
  }
  started_.store(true, std::memory_order_seq_cst);
  std::string name = absl::StrCat("vcpu-", id());
  pthread_setname_np(thread_, name.substr(0, 15).c_str());
  return absl::OkStatus();
}

absl::Status VcpuThread::WaitPinned() {
  if (!started_.load()) return absl::FailedPreconditionError("vCPU thread not started");
  pinned_.WaitForNotification();
  return pin_status_;
}

void* VcpuThread::ThreadMain(void* self) {
  static_cast<VcpuThread*>(self)->Loop();
  return nullptr;
}

// Why no kick can be lost.
//
// Kicker (any thread):        W kick_pending=1; W immediate_exit=1; signal
// vCPU thread after KVM_RUN:  W immediate_exit=0; full fence; R kick_pending
//
// This is the store-buffering / "R" shape of the seed bug: the thread's clear
// of immediate_exit must not be reordered after its read of kick_pending.
// Without the fence, on x86-TSO the clear may sit in the store buffer while
// the read already returns 0; the kicker's immediate_exit=1 then lands first
// and the thread's stale 0 overwrites it. The signal, if it arrived while the
// thread was outside KVM_RUN, did nothing, so the thread would re-enter the
// guest with the kick neither seen nor pending: lost until the next exit.
//
// All four accesses are seq_cst (plus an explicit seq_cst fence), so they sit
// in one total order S. Suppose the read returns 0. Then it precedes the
// kicker's W kick_pending=1 in S, hence so does the thread's W
// immediate_exit=0, which therefore precedes the kicker's W immediate_exit=1:
// the final value is 1 and the next KVM_RUN returns at once (EINTR). If
// instead the read returns 1, the kick is consumed here. And a signal that
// arrives while the thread is inside KVM_RUN makes KVM_RUN return EINTR.
// Either way the thread leaves (or never stays in) the guest.
//
// The kernel reads immediate_exit on KVM_RUN entry, after the thread's own
// earlier stores in program order, so the vCPU thread's side needs nothing
// more.
void VcpuThread::Kick() {
  kicks_sent_.fetch_add(1, std::memory_order_relaxed);
  kick_pending_.store(true, std::memory_order_seq_cst);
  __atomic_store_n(&vcpu_->RunState()->immediate_exit, 1, __ATOMIC_SEQ_CST);
  kicks_in_flight_.fetch_add(1, std::memory_order_seq_cst);
  if (started_.load(std::memory_order_seq_cst) &&
      !joining_.load(std::memory_order_seq_cst)) {
    pthread_kill(thread_, KickSignal());
  }
  kicks_in_flight_.fetch_sub(1, std::memory_order_seq_cst);
}

void VcpuThread::RequestStop() {
  stop_.store(true, std::memory_order_seq_cst);
  Kick();
}

void VcpuThread::Join() {
  if (!started_.load() || joined_) return;
  joining_.store(true, std::memory_order_seq_cst);
  while (kicks_in_flight_.load(std::memory_order_seq_cst) != 0) sched_yield();
  pthread_join(thread_, nullptr);
  joined_ = true;
}

absl::StatusOr<VcpuRegisters> VcpuThread::CaptureRegisters(absl::Duration timeout) {
  auto read_directly = [this]() -> absl::StatusOr<VcpuRegisters> {
    VcpuRegisters r;
    auto regs = vcpu_->GetRegs();
    if (!regs.ok()) return regs.status();
    auto sregs = vcpu_->GetSregs();
    if (!sregs.ok()) return sregs.status();
    r.regs = *regs;
    r.sregs = *sregs;
    return r;
  };
  absl::MutexLock lock(&capture_mu_);
  // Not running (never started, or its loop ended): nobody is in KVM_RUN.
  if (!started_.load() || Finished()) return read_directly();
  const uint64_t want = ++capture_requested_gen_;
  capture_pending_.store(true, std::memory_order_seq_cst);
  Kick();
  const absl::Time deadline = absl::Now() + timeout;
  while (capture_done_gen_ < want) {
    if (Finished()) return read_directly();
    // Short waits so a thread that ends without answering is noticed.
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "vCPU ", id(), ": no exit within ", absl::FormatDuration(timeout),
          " to read its registers"));
    }
    capture_cv_.WaitWithTimeout(&capture_mu_, absl::Milliseconds(10));
  }
  return capture_;
}

void VcpuThread::AnswerCapture() {
  VcpuRegisters r;
  absl::StatusOr<VcpuRegisters> result = r;
  auto regs = vcpu_->GetRegs();
  auto sregs = vcpu_->GetSregs();
  if (!regs.ok()) {
    result = regs.status();
  } else if (!sregs.ok()) {
    result = sregs.status();
  } else {
    r.regs = *regs;
    r.sregs = *sregs;
    result = r;
  }
  absl::MutexLock lock(&capture_mu_);
  capture_ = std::move(result);
  capture_done_gen_ = capture_requested_gen_;
  capture_cv_.SignalAll();
}

void VcpuThread::NoteCpu(int cpu) {
  if (cpu < 0 || cpu >= kCpuWords * 64) return;
  ran_on_[cpu / 64].fetch_or(1ull << (cpu % 64), std::memory_order_relaxed);
}

void VcpuThread::SampleHostCpu() {
  pid_t tid = tid_.load(std::memory_order_acquire);
  if (tid == 0 || Finished()) return;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/stat", static_cast<int>(tid));
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Field 39 ("processor"); fields after the comm, which ends at the last ')'.
  char* p = std::strrchr(buf, ')');
  if (p == nullptr) return;
  int field = 2;
  for (; *p != '\0' && field < 39; ++p) {
    if (*p == ' ') ++field;
  }
  if (field == 39) NoteCpu(std::atoi(p));
}

VcpuThreadStats VcpuThread::Stats() const {
  VcpuThreadStats s;
  s.tid = tid_.load(std::memory_order_acquire);
  {
    absl::MutexLock lock(&mu_);
    s.affinity_in_force = affinity_in_force_;
  }
  for (int w = 0; w < kCpuWords; ++w) {
    uint64_t bits = ran_on_[w].load(std::memory_order_relaxed);
    for (int b = 0; b < 64; ++b) {
      if (bits & (1ull << b)) s.ran_on.push_back(w * 64 + b);
    }
  }
  for (int r = 0; r <= kMaxExitReason; ++r) {
    uint64_t c = exit_counts_[r].load(std::memory_order_relaxed);
    if (c == 0) continue;
    s.exits[r == kMaxExitReason ? std::string("other") : ExitReasonName(r)] = c;
  }
  s.runs = runs_.load(std::memory_order_relaxed);
  s.kicks_sent = kicks_sent_.load(std::memory_order_relaxed);
  s.kicks_seen = kicks_seen_.load(std::memory_order_relaxed);
  return s;
}

void VcpuThread::Loop() {
  tid_.store(static_cast<pid_t>(syscall(SYS_gettid)), std::memory_order_release);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, KickSignal());
  pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);

  absl::Status pinned = PinThisThread(affinity_, absl::StrCat("vcpu-", id()));
  if (pinned.ok()) {
    absl::StatusOr<std::vector<int>> in_force = ThisThreadCpus();
    if (in_force.ok()) {
      absl::MutexLock lock(&mu_);
      affinity_in_force_ = *std::move(in_force);
    } else {
      pinned = in_force.status();
    }
  }
  if (!pinned.ok()) {
    // E.g. the CPU went offline (or left the cpuset) after Start() checked.
    pin_status_ = MarkHostError(pinned);
    finished_.store(true, std::memory_order_release);
    pinned_.Notify();
    handler_->OnVcpuStopped(id(), pin_status_);
    return;
  }
  NoteCpu(sched_getcpu());
  pinned_.Notify();

  absl::Status status;
  kvm_run* run = vcpu_->RunState();
  while (!stop_.load(std::memory_order_seq_cst)) {
    if (hooks_ != nullptr) hooks_->BeforeEntry(id());
    in_guest_.store(true, std::memory_order_seq_cst);
    absl::StatusOr<uint32_t> reason = vcpu_->Run();
    in_guest_.store(false, std::memory_order_seq_cst);
    runs_.fetch_add(1, std::memory_order_relaxed);
    // Clear, full fence, then read: see the comment above Kick().
    __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool kicked = kick_pending_.exchange(false, std::memory_order_seq_cst);
    if (kicked) kicks_seen_.fetch_add(1, std::memory_order_relaxed);
    NoteCpu(sched_getcpu());
    if (!reason.ok()) {
      status = reason.status();
      break;
    }
    exit_counts_[*reason < kMaxExitReason ? *reason : kMaxExitReason].fetch_add(
        1, std::memory_order_relaxed);
    if (capture_pending_.exchange(false, std::memory_order_seq_cst)) AnswerCapture();
    if (hooks_ != nullptr) hooks_->AfterExit(id(), *reason, kicked);
    if (*reason == KVM_EXIT_INTR) continue;
    absl::StatusOr<bool> resume = handler_->HandleExit(*vcpu_, *reason);
    if (!resume.ok()) {
      status = resume.status();
      break;
    }
    if (!*resume) break;
  }
  finished_.store(true, std::memory_order_release);
  handler_->OnVcpuStopped(id(), status);
}

}  // namespace vmm
}  // namespace kvmbed
