#include "vmm/kvm.h"
#include "runner/smp_run.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "guest/image.h"
#include "base/cpuset.h"
#include "base/status_macros.h"
#include "vmm/elf.h"
#include "vmm/vcpu_snapshot.h"
#include "base/stall_verdict.h"
#include "watch/watchdog.h"

namespace kvmbed {
namespace runner {

namespace {

using hostipi::StallReport;
using hostipi::StallVerdict;
using hostipi::TargetActivity;

constexpr const char* kPrimField[abi::kNumPrims] = {"resched",   "single", "single_wait", "many",
                                                    "many_wait", "all",    "all_wait"};

std::string SymbolName(const std::string& symbolized) {
  std::string name = symbolized;
  size_t plus = name.find('+');
  if (plus != std::string::npos) name.resize(plus);
  return name;
}

// Owns the scratch file of the io workers; removed on destruction.
class ScratchFile {
 public:
  ~ScratchFile() {
    if (fd_ >= 0) close(fd_);
    if (!path_.empty()) unlink(path_.c_str());
  }
  absl::Status Open(const std::string& dir) {
    std::string d = dir;
    if (d.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      d = tmp != nullptr && *tmp ? tmp : "/tmp";
    }
    std::string templ = d + "/kvmbed-io-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    fd_ = mkstemp(buf.data());
    if (fd_ < 0) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("guest.stress.io_dir: create a scratch file in ", d,
                                              " (give a writable directory)"));
    }
    path_ = buf.data();
    return absl::OkStatus();
  }
  // stress --io: one real write and fdatasync.
  absl::Status WriteAndSync(uint64_t bytes, int vcpu) {
    std::vector<char> data(bytes, static_cast<char>('a' + vcpu % 26));
    off_t off = static_cast<off_t>(vcpu) * (1 << 20);
    if (pwrite(fd_, data.data(), data.size(), off) != static_cast<ssize_t>(data.size())) {
      return absl::ErrnoToStatus(errno, absl::StrCat("io worker: write ", path_));
    }
    if (fdatasync(fd_) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("io worker: fdatasync ", path_));
    }
    return absl::OkStatus();
  }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace

class SmpSession {
 public:
  SmpSession(const VmSpec& vm, const GuestSpec& guest, const SmpRunOptions& o)
      : vm_(vm), guest_(guest), o_(o) {}

  // Validates, calibrates (when thresholds are absent), builds the VM.
  absl::Status Setup();
  // Boots, watches until the duration ends (or RequestStop), shuts down.
  absl::StatusOr<SmpRunResult> Run();
  hostipi::PlaneStats HostStats() const {
    return host_plane_ != nullptr ? host_plane_->Stats() : hostipi::PlaneStats{};
  }
  // SmpRunner::EndWaitPeriod(). Any thread.
  uint64_t EndWaitPeriod();
  // SmpRunner::EndHostWaitPeriod(). Any thread (host_plane_ is set in Setup).
  uint64_t EndHostWaitPeriod() {
    return host_plane_ != nullptr ? static_cast<uint64_t>(host_plane_->TakePeriodMaxNs()) : 0;
  }
  SmpLive Live() const {
    absl::MutexLock lock(&mu_);
    return live_;
  }
  // Async-signal-safe: atomic stores (and vmm::Machine::RequestStop's).
  void RequestStop() {
    stop_.store(true, std::memory_order_relaxed);
    vmm::Machine* m = machine_ptr_.load(std::memory_order_acquire);
    if (m != nullptr) m->RequestStop();
    // vCPU threads waiting in a host-plane csd_lock_wait (a lost IPI) would
    // otherwise wait until the owner loop gets round to StopSenders().
    if (host_plane_ != nullptr) host_plane_->RequestStop();
  }

 private:
  void Emit(const std::string& text);
  void Event(const std::string& type, nlohmann::json fields);
  // "stall" / "stall_cleared" (docs/events.md) for one report printed as `text`.
  void StallEvent(const StallReport& r, const std::string& text, bool lost);
  absl::StatusOr<bool> OnReport(vmm::Vcpu& vcpu, const abi::Message& m);
  void OnCsdStall(int waiter, const abi::Message& m);
  void OnCsdUnstuck(int waiter, const abi::Message& m);
  SmpStats ReadStats();
  // Adds vCPU `vcpu`'s latency histogram (a consistent seqcount copy, else
  // its last one) to `h`. Owner thread only.
  void AddLatency(int vcpu, hostplane::LatencyHistogram* h);
  // The "ipi_latency" event of plane "guest" for `h`.
  void LatencyEvent(const hostplane::LatencyHistogram& h);
  // Refreshes live_ from `st` and the heartbeat counters; emits "heartbeats".
  void UpdateLive(const SmpStats& st, bool emit_heartbeats);
  void CheckWatchdog(watch::SoftLockupDetector& det, absl::Time now);
  absl::Duration Elapsed() const { return absl::Now() - started_; }

  const VmSpec vm_;
  const GuestSpec guest_;
  const SmpRunOptions o_;
  // Declared before hooks_ and machine_: the vCPU threads call it until the
  // machine is gone.
  std::unique_ptr<hostplane::HostPlane> host_plane_;
  std::unique_ptr<vmm::SnapshotHooks> hooks_;
  std::unique_ptr<vmm::Machine> machine_;
  ScratchFile scratch_;
  absl::Time started_ = absl::Now();
  absl::Duration csd_timeout_;
  SmpRunResult result_;  // thresholds from Setup()
  bool ran_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<vmm::Machine*> machine_ptr_{nullptr};
  uint64_t tsc_khz_ = 0;
  // Last consistent copy of each vCPU's latency record (owner thread only).
  std::vector<abi::CsdWaitLatency> latency_copy_;

  // EndWaitPeriod(): guest memory is read only while the vCPUs run.
  absl::Mutex period_mu_;
  bool period_open_ ABSL_GUARDED_BY(period_mu_) = false;

  absl::Mutex out_mu_;
  mutable absl::Mutex mu_;
  // Every open, lost or early stall; resolved slow ones past
  // o_.max_stall_records are counted in evicted_slow_ and dropped, and
  // report texts are kept for the first o_.kept_report_texts only (the event
  // log has them all): a 20 h soak on a busy host sees slow stalls every
  // second.
  std::map<int, CsdStall> stalls_ ABSL_GUARDED_BY(mu_);
  int evicted_slow_ ABSL_GUARDED_BY(mu_) = 0;
  int stall_texts_kept_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> guest_errors_ ABSL_GUARDED_BY(mu_);
  std::vector<SoftLockupRecord> lockups_ ABSL_GUARDED_BY(mu_);
  uint64_t io_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  SmpLive live_ ABSL_GUARDED_BY(mu_);
};

namespace {

nlohmann::json StatsJson(const SmpStats& st) {
  nlohmann::json j;
  nlohmann::json inv;
  for (int p = 0; p < int{abi::kNumPrims}; ++p) inv[kPrimField[p]] = st.invoked[p];
  j["invoked"] = inv;
  const auto& c = st.count;
  j["handler_invocations"] = c[abi::kCntInvoked];
  j["ipis_sent"] = c[abi::kCntIpisSent];
  j["ipis_taken"] = c[abi::kCntIpiIrqs];
  j["ipis_dropped"] = c[abi::kCntIpisDropped];
  j["ste"] = c[abi::kCntErrWrongCpu];
  j["stnmie"] = c[abi::kCntErrMbIn];
  j["stnmoe"] = c[abi::kCntErrMbOut];
  j["staf"] = c[abi::kCntErrAlloc];
  j["csd_stalls"] = c[abi::kCntCsdStalls];
  j["csd_resends"] = c[abi::kCntCsdResends];
  j["max_csd_wait_ns"] = st.max_csd_wait_ns;
  j["csd_wait_samples"] = st.latency.count;
  j["csd_wait_p50_ns"] = st.latency.ApproxQuantile(0.5);
  j["csd_wait_p99_ns"] = st.latency.ApproxQuantile(0.99);
  j["csd_wait_max_ns"] = st.latency.max_ns;
  j["stress_cpu"] = c[abi::kCntCpuOps];
  j["stress_io"] = c[abi::kCntIoOps];
  j["stress_vm_pages"] = c[abi::kCntVmPages];
  j["stress_vm_errors"] = c[abi::kCntVmErrors];
  return j;
}

}  // namespace

void SmpSession::Event(const std::string& type, nlohmann::json fields) {
  if (o_.events == nullptr) return;
  fields["vm"] = vm_.name;
  o_.events->Emit(type, std::move(fields));
}

void SmpSession::StallEvent(const StallReport& r, const std::string& text, bool lost) {
  if (o_.events == nullptr) return;
  // docs/events.md: a stall is "lost" on evidence, otherwise "pending" until
  // it clears (then stall_cleared says slow) or the run ends.
  const bool cleared = r.kind == StallReport::Kind::kUnstuck;
  hostipi::StallEventLine line =
      hostipi::StallEvent(r, "guest", lost ? "lost" : (cleared ? "slow" : "pending"), text);
  Event(line.type, std::move(line.fields));
}

void SmpSession::Emit(const std::string& text) {
  absl::MutexLock lock(&out_mu_);
  if (o_.out) {
    o_.out(text);
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
}

absl::StatusOr<bool> SmpSession::OnReport(vmm::Vcpu& vcpu, const abi::Message& m) {
  const int id = vcpu.id();
  std::string text(m.text, std::min<uint32_t>(m.text_len, abi::kMessageText));
  switch (m.code) {
    case abi::kReportText:
      Emit(absl::StrCat("[vCPU ", id, "] ", text, "\n"));
      return true;
    case abi::kReportCsdStall:
      OnCsdStall(id, m);
      return true;
    case abi::kReportCsdUnstuck:
      OnCsdUnstuck(id, m);
      return true;
    case abi::kReportScfError: {
      std::string line = absl::StrCat("scftorture: !!! vCPU#", id, ": ", text);
      Event("guest_error", {{"vcpu", id}, {"what", line}});
      {
        absl::MutexLock lock(&mu_);
        guest_errors_.push_back(line);
      }
      Emit(line + "\n");
      return true;
    }
    case abi::kReportVmCorruption: {
      std::string line = absl::StrFormat(
          "stress: !!! vCPU#%d: --vm corrupt word at GPA 0x%x: expected 0x%016x, read 0x%016x", id,
          m.args[0], m.args[1], m.args[2]);
      Event("guest_error", {{"vcpu", id}, {"what", line}});
      {
        absl::MutexLock lock(&mu_);
        guest_errors_.push_back(line);
      }
      Emit(line + "\n");
      return true;
    }
    case abi::kReportIoSync: {
      uint64_t bytes = m.args[0];
      if (bytes == 0 || bytes > (1u << 20)) {
        return absl::InvalidArgumentError(
            absl::StrCat("vCPU ", id, ": io report asks for ", bytes, " bytes (1..1 MiB)"));
      }
      RETURN_IF_ERROR(scratch_.WriteAndSync(bytes, id));
      absl::MutexLock lock(&mu_);
      io_bytes_ += bytes;
      return true;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("vCPU ", id, ": unknown report code ", m.code, " (guest/abi.h ReportCode)"));
  }
}

void SmpSession::OnCsdStall(int waiter, const abi::Message& m) {
  const uint64_t* a = m.args;
  const bool continued = a[abi::kCsdArgContinued] != 0;
  const int number = static_cast<int>(a[abi::kCsdArgBugId]);
  const int target = static_cast<int>(a[abi::kCsdArgTarget]);
  const uint64_t csd_gpa = a[abi::kCsdArgCsd];
  const vmm::ElfImage& elf = machine_->elf();
  vmm::GuestMemory& mem = machine_->memory();

  absl::StatusOr<vmm::VcpuSnapshot> snap = hooks_->Take(target, waiter, o_.snapshot_timeout);

  StallReport r;
  r.kind = continued ? StallReport::Kind::kContinued : StallReport::Kind::kDetected;
  r.number = number;
  r.waiter_cpu = waiter;
  r.target_cpu = target;
  r.waited_ns = static_cast<int64_t>(a[abi::kCsdArgWaitNs]);
  r.func = elf.Symbolize(a[abi::kCsdArgFunc]);
  r.info = a[abi::kCsdArgInfo];

  uint64_t cur = snap.ok() ? snap->smp.cur_csd : a[abi::kCsdArgTargetCurCsd];
  if (cur == 0) {
    r.activity = TargetActivity::kNothing;
  } else if (cur == csd_gpa) {
    r.activity = TargetActivity::kThisRequest;
  } else {
    r.activity = TargetActivity::kPriorRequest;
    auto prior = mem.ReadAs<abi::Csd>(cur);
    r.prior_sender = prior.ok() ? static_cast<int>(prior->src) : -1;
    r.prior_func = elf.Symbolize(snap.ok() ? snap->smp.cur_func : (prior.ok() ? prior->func : 0));
  }

  bool queued = false;
  int queue_len = 0;
  bool lost_evidence = false;
  std::string why;
  if (snap.ok()) {
    const vmm::VcpuSnapshot& s = *snap;
    // Walk the target's call_single_queue as it was when it stopped.
    uint64_t p = s.smp.queue;
    while (p != 0 && queue_len < 4 * vm_.vcpus + 4) {
      if (p == csd_gpa) queued = true;
      ++queue_len;
      auto c = mem.ReadAs<abi::Csd>(p);
      if (!c.ok()) break;
      p = c->next;
    }
    const bool pending = s.Pending(abi::kVectorCallFunctionSingle);
    const bool in_service = s.InService(abi::kVectorCallFunctionSingle);
    r.facts.push_back(
        {"target vCPU",
         absl::StrCat(s.in_guest_when_asked ? "in guest" : "in the VMM", ", ",
                      s.Halted() ? "halted" : "running", ", ", vmm::SmpWhereName(s.smp.where))});
    r.facts.push_back({"call_single_queue",
                       absl::StrCat(queue_len, queue_len == 1 ? " csd" : " csds",
                                    " queued; this csd ", queued ? "is in it" : "is not in it")});
    r.facts.push_back(
        {"local APIC",
         absl::StrFormat("CALL_FUNCTION vector 0x%x %s", abi::kVectorCallFunctionSingle,
                         pending      ? "pending in IRR"
                         : in_service ? "in service (ISR)"
                                      : "neither pending nor in service")});
    r.facts.push_back({"IPIs taken by target", absl::StrCat(s.smp.count[abi::kCntIpiIrqs], " (",
                                                            s.smp.count[abi::kCntIpisDropped],
                                                            " dropped by fault injection)")});
    auto csd = mem.ReadAs<abi::Csd>(csd_gpa);
    if (csd.ok() && s.smp.last_ipi_tsc != 0) {
      int64_t d = static_cast<int64_t>(s.smp.last_ipi_tsc - csd->queued_tsc);
      double us = static_cast<double>(d) * 1000.0 / std::max<uint64_t>(1, tsc_khz_);
      r.facts.push_back({"last IPI taken by target",
                         absl::StrFormat("%.1f us %s this csd was queued", us < 0 ? -us : us,
                                         d < 0 ? "before" : "after")});
    }
    // The target's registers as "key: value" facts ("RIP: 0008:... sym",
    // "RSP: ... RFLAGS: ...", ...), not as the formatter's trace section.
    for (absl::string_view line :
         absl::StrSplit(vmm::FormatSnapshotRegisters(s, elf, ""), '\n', absl::SkipEmpty())) {
      size_t colon = line.find(": ");
      if (colon == absl::string_view::npos) continue;
      r.facts.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 2))});
    }
    // A sender between its llist_add and its ICR write still owes the IPI.
    int in_flight_from = -1;
    for (int v = 0; v < vm_.vcpus && in_flight_from < 0; ++v) {
      auto o = mem.ReadAs<abi::SmpStatus>(abi::SmpStatusGpa(v));
      if (o.ok() && o->sending_to == static_cast<uint32_t>(target) + 1) in_flight_from = v;
    }
    if (in_flight_from >= 0) {
      r.facts.push_back({"IPI in flight", absl::StrCat("CPU#", in_flight_from,
                                                       " queued on the target and has not "
                                                       "written its ICR yet")});
    }
    stall::WaitEvidence ev;
    ev.request_queued = queued;
    // A target running another csd took its queue before this one was
    // added (llist_del_all), so that flush will not run it.
    ev.target_work = cur == csd_gpa ? stall::TargetWork::kThisRequest
                     : cur == 0     ? stall::TargetWork::kNothing
                                    : stall::TargetWork::kOtherRequest;
    ev.interrupt_pending = pending;
    ev.interrupt_in_service = in_service;
    ev.sender_in_flight = in_flight_from;
    const stall::Judgement j = stall::Judge(ev);
    lost_evidence = j.verdict == stall::Verdict::kLost;
    why = lost_evidence
              ? absl::StrFormat(
                    "csd still queued on CPU#%02d, which handles %s and has no call-function "
                    "IPI pending or in service: nothing will run the queue",
                    target, cur == 0 ? "nothing" : "another request")
              : j.slow_because;
  } else {
    r.facts.push_back({"target snapshot", std::string(snap.status().message())});
    why = "no snapshot of the target, no evidence of a lost IPI";
  }
  const bool resend = guest_.csd_resend && a[abi::kCsdArgTargetCurCsd] == 0;
  if (resend) r.facts.push_back({"csdlock_debug", "re-sending the IPI"});

  {
    absl::MutexLock lock(&mu_);
    CsdStall& st = stalls_[number];
    if (st.reports == 0) {
      st.number = number;
      st.waiter = waiter;
      st.target = target;
      st.func = r.func;
      st.func_name = SymbolName(r.func);
      st.info = r.info;
      st.first_report_wait_ns = r.waited_ns;
      st.detected_after = Elapsed();
      st.activity = r.activity;
      st.target_snapshot_ok = snap.ok();
      if (snap.ok()) st.target_rip = elf.Symbolize(snap->regs.rip);
    }
    ++st.reports;
    if (lost_evidence && st.verdict != StallVerdict::kLost) {
      st.verdict = StallVerdict::kLost;
      st.verdict_reason = why;
    } else if (st.verdict_reason.empty()) {
      st.verdict_reason = why;
    }
    r.verdict = st.verdict;
    r.verdict_reason = st.verdict == StallVerdict::kLost ? st.verdict_reason : why;
  }
  std::string text = hostipi::FormatStallReport(r);
  if (resend) {
    absl::StrAppendFormat(&text, "csd: Re-sending CSD lock (#%d) IPI from CPU#%02d to CPU#%02d\n",
                          number, waiter, target);
  }
  {
    absl::MutexLock lock(&mu_);
    CsdStall& st = stalls_[number];
    if (st.first_report.empty()) st.first_report = text;  // while open: always
  }
  StallEvent(r, text, r.verdict == StallVerdict::kLost);
  Emit(text);
}

void SmpSession::OnCsdUnstuck(int waiter, const abi::Message& m) {
  const uint64_t* a = m.args;
  const int number = static_cast<int>(a[abi::kCsdArgBugId]);
  StallReport r;
  r.kind = StallReport::Kind::kUnstuck;
  r.number = number;
  r.waiter_cpu = waiter;
  r.target_cpu = static_cast<int>(a[abi::kCsdArgTarget]);
  r.waited_ns = static_cast<int64_t>(a[abi::kCsdArgWaitNs]);
  r.func = machine_->elf().Symbolize(a[abi::kCsdArgFunc]);
  r.info = a[abi::kCsdArgInfo];
  {
    absl::MutexLock lock(&mu_);
    CsdStall& st = stalls_[number];
    st.unstuck = true;
    st.total_wait_ns = r.waited_ns;
    st.resends = a[abi::kCsdArgResends];
    if (st.resends > 0 && st.verdict != StallVerdict::kLost) {
      st.verdict = StallVerdict::kLost;
      st.verdict_reason =
          absl::StrCat("the wait cleared only after ", st.resends, " re-sent IPI(s)");
    }
    r.verdict = st.verdict;
    r.verdict_reason = st.verdict_reason;
    if (st.verdict != StallVerdict::kLost) {
      // Resolved and slow: bounded memory for long soaks (see stalls_).
      if (stall_texts_kept_ < o_.kept_report_texts) {
        ++stall_texts_kept_;
      } else {
        std::string().swap(st.first_report);
      }
      if (static_cast<int>(stalls_.size()) > o_.max_stall_records) {
        stalls_.erase(number);
        ++evicted_slow_;
      }
    }
  }
  std::string text = hostipi::FormatStallReport(r);
  StallEvent(r, text, r.verdict == StallVerdict::kLost);
  Emit(text);
}

void SmpSession::AddLatency(int vcpu, hostplane::LatencyHistogram* h) {
  static_assert(abi::kLatencyBuckets == std::tuple_size<decltype(h->counts)>::value,
                "guest and host planes bucket alike");
  if (latency_copy_.size() != static_cast<size_t>(vm_.vcpus)) {
    latency_copy_.assign(vm_.vcpus, abi::CsdWaitLatency{});
  }
  auto st = machine_->memory().TranslateAs<abi::SmpStatus>(abi::SmpStatusGpa(vcpu));
  if (st.ok()) {
    const abi::CsdWaitLatency& g = (*st)->latency;
    // The guest's seqcount (guest/abi.h CsdWaitLatency): keep a copy taken
    // while seq stayed even and unchanged; a vCPU preempted mid-update keeps
    // its previous copy for this read.
    for (int attempt = 0; attempt < 64; ++attempt) {
      const uint64_t before = g.seq;
      std::atomic_thread_fence(std::memory_order_acquire);
      if (before % 2 != 0) continue;
      abi::CsdWaitLatency copy;
      copy.count = g.count;
      copy.sum_ns = g.sum_ns;
      copy.max_ns = g.max_ns;
      for (uint32_t b = 0; b < abi::kLatencyBuckets; ++b) copy.buckets[b] = g.buckets[b];
      std::atomic_thread_fence(std::memory_order_acquire);
      if (g.seq != before) continue;
      copy.seq = before;
      latency_copy_[vcpu] = copy;
      break;
    }
  }
  const abi::CsdWaitLatency& c = latency_copy_[vcpu];
  for (uint32_t b = 0; b < abi::kLatencyBuckets; ++b) {
    h->counts[b] += static_cast<int64_t>(c.buckets[b]);
    h->count += static_cast<int64_t>(c.buckets[b]);
  }
  h->sum_ns += static_cast<int64_t>(c.sum_ns);
  h->max_ns = std::max(h->max_ns, static_cast<int64_t>(c.max_ns));
}

void SmpSession::LatencyEvent(const hostplane::LatencyHistogram& h) {
  // idle / spin guests make no smp_call_function calls: no empty plots.
  if (o_.events == nullptr || guest_.workload != GuestWorkload::kTorture) return;
  o_.events->Emit("ipi_latency", LatencyEventFields(h, "guest", vm_.name));
}

uint64_t SmpSession::EndWaitPeriod() {
  absl::MutexLock lock(&period_mu_);
  if (!period_open_) return 0;
  vmm::GuestMemory& mem = machine_->memory();
  auto params = mem.TranslateAs<abi::SmpParams>(abi::kSmpParamsGpa);
  if (!params.ok()) return 0;
  // guest/abi.h CsdWaitLatency: bump (a locked RMW: a full fence on x86,
  // seq_cst for the compiler), then read the closed epoch's slots.
  const uint64_t closed =
      __atomic_fetch_add(&(*params)->window_epoch, 1, __ATOMIC_SEQ_CST);
  const int slot = static_cast<int>(closed & 1);
  uint64_t longest = 0;
  for (int i = 0; i < vm_.vcpus; ++i) {
    auto st = mem.TranslateAs<abi::SmpStatus>(abi::SmpStatusGpa(i));
    if (!st.ok()) continue;
    const abi::CsdWaitLatency& l = (*st)->latency;
    // Epoch first, then the maximum: the guest writes them the other way.
    const uint64_t epoch = l.window_epoch[slot];
    std::atomic_thread_fence(std::memory_order_acquire);
    if (epoch != closed) continue;  // no sample of this vCPU in the period
    const uint64_t max_ns = l.window_max_ns[slot];
    longest = std::max(longest, max_ns);
  }
  return longest;
}

SmpStats SmpSession::ReadStats() {
  SmpStats s;
  for (int i = 0; i < vm_.vcpus; ++i) {
    AddLatency(i, &s.latency);
    auto st = machine_->memory().ReadAs<abi::SmpStatus>(abi::SmpStatusGpa(i));
    if (!st.ok()) continue;
    for (int p = 0; p < int{abi::kNumPrims}; ++p) s.invoked[p] += st->invoked[p];
    for (int c = 0; c < int{abi::kNumCounters}; ++c) {
      if (c == abi::kCntMaxCsdWaitCycles) continue;
      s.count[c] += st->count[c];
    }
    uint64_t cycles = st->count[abi::kCntMaxCsdWaitCycles];
    s.max_csd_wait_ns = std::max<uint64_t>(
        s.max_csd_wait_ns,
        tsc_khz_ ? static_cast<uint64_t>(static_cast<double>(cycles) * 1e6 / tsc_khz_) : 0);
    if (st->finished) ++s.vcpus_finished;
  }
  s.count[abi::kCntMaxCsdWaitCycles] = 0;  // see max_csd_wait_ns
  return s;
}

void SmpSession::UpdateLive(const SmpStats& st, bool emit_heartbeats) {
  std::vector<uint64_t> beats(vm_.vcpus);
  for (int i = 0; i < vm_.vcpus; ++i) beats[i] = machine_->StatusOf(i).heartbeat;
  if (emit_heartbeats) Event("heartbeats", {{"counts", beats}});
  hostipi::PlaneStats host;
  hostplane::LatencyHistogram host_latency;
  if (host_plane_ != nullptr) {
    host = host_plane_->Stats();
    host_latency = host_plane_->Result().latency;
  }
  absl::MutexLock lock(&mu_);
  live_.host = host;
  live_.host_latency = host_latency;
  live_.stats = st;
  live_.heartbeats = std::move(beats);
  live_.stalls_lost = 0;
  live_.stalls_other = evicted_slow_;
  for (const auto& [n, s] : stalls_) {
    if (s.verdict == StallVerdict::kLost) {
      ++live_.stalls_lost;
    } else {
      ++live_.stalls_other;
    }
  }
  live_.soft_lockups = static_cast<int>(lockups_.size());
}

void SmpSession::CheckWatchdog(watch::SoftLockupDetector& det, absl::Time now) {
  std::vector<uint64_t> beats(vm_.vcpus);
  std::vector<bool> watched(vm_.vcpus);
  for (int i = 0; i < vm_.vcpus; ++i) {
    abi::VcpuStatus vs = machine_->StatusOf(i);
    beats[i] = vs.heartbeat;
    auto st = machine_->memory().ReadAs<abi::SmpStatus>(abi::SmpStatusGpa(i));
    // A vCPU blocked in an io exit is in the VMM, not looping in the guest.
    watched[i] = vs.state == abi::kStateOnline && !(st.ok() && st->where == abi::kWhereIoExit);
  }
  for (const watch::SoftLockup& l : det.Check(now, beats, watched)) {
    // Each report may wait snapshot_timeout for a vCPU that does not exit:
    // a stop must not queue behind dozens of them.
    if (stop_.load(std::memory_order_relaxed)) break;
    absl::StatusOr<vmm::VcpuSnapshot> snap = hooks_->Take(l.vcpu, -1, o_.snapshot_timeout);
    std::string text =
        watch::FormatSoftLockup(l, snap.ok() ? &*snap : nullptr,
                         snap.ok() ? "" : std::string(snap.status().message()), machine_->elf());
    SoftLockupRecord rec;
    rec.vcpu = l.vcpu;
    rec.stuck_for = l.stuck_for;
    if (snap.ok()) rec.rip = machine_->elf().Symbolize(snap->regs.rip);
    rec.report = text;
    Event("soft_lockup", {{"vcpu", l.vcpu},
                          {"stuck_s", absl::ToDoubleSeconds(l.stuck_for)},
                          {"first", l.first},
                          {"rip", rec.rip},
                          {"report", text}});
    {
      absl::MutexLock lock(&mu_);
      // Text for the first reports only (all of them are in the log).
      if (static_cast<int>(lockups_.size()) >= o_.kept_report_texts) {
        std::string().swap(rec.report);
      }
      lockups_.push_back(rec);
    }
    Emit(text);
  }
}

absl::Status SmpSession::Setup() {
  RETURN_IF_ERROR(ValidateGuestSpec(guest_, vm_));
  SmpRunResult& result = result_;
  // Thresholds: the profile's, else calibrated on this host.
  result.csd_timeout = guest_.csd_timeout;
  result.soft_lockup_threshold = guest_.soft_lockup_threshold;
  if (result.csd_timeout == absl::ZeroDuration()) {
    ASSIGN_OR_RETURN(Calibration c, CalibrateThresholds(vm_));
    result.thresholds_calibrated = true;
    result.calibration = c.latency;
    result.csd_timeout = c.csd_timeout;
    if (result.soft_lockup_threshold == absl::ZeroDuration()) {
      result.soft_lockup_threshold = c.soft_lockup_threshold;
    }
    Emit(absl::StrFormat(
        "kvmbed: calibrated IPI round trip p50 %.1f us, p99 %.1f us, max %.1f us, vCPU "
        "overcommit %.1f -> csd timeout %s, soft lockup %s\n",
        c.latency.Us(c.latency.p50), c.latency.Us(c.latency.p99), c.latency.Us(c.latency.max),
        c.overcommit,
        absl::FormatDuration(result.csd_timeout),
        absl::FormatDuration(result.soft_lockup_threshold)));
  }
  if (result.soft_lockup_threshold == absl::ZeroDuration()) {
    result.soft_lockup_threshold = 4 * result.csd_timeout;
  }
  csd_timeout_ = result.csd_timeout;

  vmm::MachineOptions mo;
  mo.guest_elf = guest::Image();
  mo.workload = guest_.workload == GuestWorkload::kIdle   ? abi::kWorkloadIdle
                : guest_.workload == GuestWorkload::kSpin ? abi::kWorkloadSpin
                                                          : abi::kWorkloadSmp;
  mo.log_console = false;
  mo.hugepages = o_.hugepages;
  mo.mergeable = o_.mergeable;
  mo.fault = guest_.inject_fault;
  mo.fault_vcpu = guest_.inject_fault_vcpu;
  vmm::VcpuHooks* inner = o_.hooks;
  if (o_.hostipi.enabled) {
    if (o_.hooks != nullptr) {
      return absl::InvalidArgumentError(
          "SmpRunOptions: hooks and hostipi.enabled both set; the host plane is the hooks");
    }
    absl::StatusOr<hostplane::HostPlaneOptions> hpo = hostplane::HostPlaneOptionsFromSpec(o_.hostipi, vm_);
    if (!hpo.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("VM ", vm_.name, ": ", hpo.status().message()));
    }
    hpo->out = [this](const std::string& text) { Emit(text); };
    hpo->events = o_.events;
    ASSIGN_OR_RETURN(host_plane_, hostplane::HostPlane::Create(*hpo));
    inner = host_plane_.get();
  }
  hooks_ = std::make_unique<vmm::SnapshotHooks>(vm_.vcpus, inner);
  mo.hooks = hooks_.get();
  mo.on_report = [this](vmm::Vcpu& v, const abi::Message& m) { return OnReport(v, m); };
  ASSIGN_OR_RETURN(machine_, vmm::Machine::Create(vm_, mo));
  hooks_->Attach(machine_.get());
  if (host_plane_ != nullptr) host_plane_->Attach(machine_.get());
  machine_ptr_.store(machine_.get(), std::memory_order_release);
  ASSIGN_OR_RETURN(abi::BootParams bp,
                   machine_->memory().ReadAs<abi::BootParams>(abi::kBootParamsGpa));
  tsc_khz_ = bp.tsc_khz;
  if (guest_.stress_io > 0) RETURN_IF_ERROR(scratch_.Open(guest_.io_scratch_dir));
  // Watchdogs off: the guest's csd_lock_wait never reports (a day).
  abi::SmpParams params = MakeSmpParams(
      guest_, vm_.vcpus, o_.watchdogs ? result.csd_timeout : absl::Hours(24));
  RETURN_IF_ERROR(machine_->memory().Write(abi::kSmpParamsGpa, &params, sizeof(params)));
  return absl::OkStatus();
}

absl::StatusOr<SmpRunResult> SmpSession::Run() {
  if (machine_ == nullptr || ran_) {
    return absl::FailedPreconditionError("SmpRunner::Run: call once, after a successful Create");
  }
  ran_ = true;
  SmpRunResult result = result_;
  const bool smp_workload = guest_.workload == GuestWorkload::kTorture;
  absl::Status pin = PinThisThread(vm_.emulator_affinity, "the VMM thread");
  if (!pin.ok())
    Emit(absl::StrCat("kvmbed: VM ", vm_.name, ": emulatorpin: ", pin.message(), "\n"));
  Emit(absl::StrFormat(
      "kvmbed: VM %s: %d vCPUs, workload %s, %d ops/vCPU%s, stress cpu %d io %d vm %d x %d "
      "bytes, csd timeout %s, soft lockup %s%s%s\n",
      vm_.name, vm_.vcpus, GuestWorkloadName(guest_.workload), guest_.ops_per_vcpu,
      guest_.ops_per_vcpu == 0 ? " (until the end)" : "", guest_.stress_cpu, guest_.stress_io,
      guest_.stress_vm, guest_.stress_vm_bytes, absl::FormatDuration(result.csd_timeout),
      absl::FormatDuration(result.soft_lockup_threshold),
      guest_.csd_resend ? ", csd resend on" : "",
      guest_.drop_ipi_fraction > 0
          ? absl::StrFormat(", DROPPING %.4g of IPIs on %s", guest_.drop_ipi_fraction,
                            guest_.fault_vcpu < 0 ? std::string("every vCPU")
                                                  : absl::StrCat("vCPU#", guest_.fault_vcpu))
          : ""));

  Event("smp_start", {{"vcpus", vm_.vcpus},
                      {"workload", GuestWorkloadName(guest_.workload)},
                      {"csd_timeout_ns", absl::ToInt64Nanoseconds(result.csd_timeout)},
                      {"soft_lockup_ns", absl::ToInt64Nanoseconds(result.soft_lockup_threshold)},
                      {"calibrated", result.thresholds_calibrated},
                      {"calibration_p50_cycles", result.calibration.p50},
                      {"calibration_max_cycles", result.calibration.max},
                      {"drop_ipi_fraction", guest_.drop_ipi_fraction},
                      {"csd_resend", guest_.csd_resend}});
  const absl::Time boot_t0 = absl::Now();
  absl::Status s = machine_->Start();
  if (s.ok()) s = machine_->WaitOnline(o_.boot_timeout);
  if (s.ok()) {
    Event("vm_online", {{"boot_ms", absl::ToDoubleMilliseconds(absl::Now() - boot_t0)}});
    {
      absl::MutexLock lock(&mu_);
      live_.online = true;
    }
    absl::MutexLock lock(&period_mu_);
    period_open_ = true;
  }
  if (stop_.load(std::memory_order_relaxed)) s = absl::OkStatus();  // stopped while booting
  if (s.ok() && host_plane_ != nullptr && !stop_.load(std::memory_order_relaxed)) {
    s = host_plane_->Start();
    if (s.ok()) {
      const hostplane::HostPlaneResult hp = host_plane_->Result();
      Emit(absl::StrCat("hostipi: VM ", vm_.name, ": host plane on ", vm_.vcpus,
                        " vCPU threads + ", o_.hostipi.ksmd_threads, " ksmd thread(s), model ",
                        hp.kernel_model, ", csd threshold ", absl::FormatDuration(hp.threshold),
                        " (", hp.threshold_source, ")\n"));
      Event("hostipi_start", {{"kernel_model", hp.kernel_model},
                              {"mode", hostipi::OrderingModeName(hp.ordering)},
                              {"store_hold_ns", absl::ToInt64Nanoseconds(hp.store_hold)},
                              {"threshold_ns", absl::ToInt64Nanoseconds(hp.threshold)},
                              {"calibrated", hp.threshold_calibrated},
                              {"kick_p50_ns", hp.kick_p50_ns},
                              {"kick_p99_ns", hp.kick_p99_ns},
                              {"kick_max_ns", hp.kick_max_ns}});
    }
  }
  started_ = absl::Now();
  absl::Time next_beats = o_.heartbeat_interval > absl::ZeroDuration() && o_.watchdogs
                              ? started_ + o_.heartbeat_interval
                              : absl::InfiniteFuture();
  watch::SoftLockupDetector det(vm_.vcpus, result.soft_lockup_threshold);
  absl::Time next_stat = guest_.stat_interval > absl::ZeroDuration()
                             ? started_ + guest_.stat_interval
                             : absl::InfiniteFuture();
  // Each vmm::Machine::Run() call samples every vCPU thread's host CPU from /proc:
  // poll no faster than needed (that work competes with the vCPUs).
  const absl::Duration poll = std::min(absl::Milliseconds(50), result.soft_lockup_threshold / 4);
  while (s.ok() && !stop_.load(std::memory_order_relaxed)) {
    absl::Duration left = o_.duration - Elapsed();
    if (left <= absl::ZeroDuration()) break;
    s = machine_->Run(std::min(poll, left));
    if (!s.ok()) break;
    if (o_.on_poll) o_.on_poll(*machine_);
    absl::Time now = absl::Now();
    if (o_.watchdogs) CheckWatchdog(det, now);
    SmpStats st = ReadStats();
    UpdateLive(st, now >= next_beats);
    if (now >= next_beats) next_beats = now + o_.heartbeat_interval;
    if (now >= next_stat) {
      Event("scf_stats", {{"final", false}, {"stats", StatsJson(st)}});
      LatencyEvent(st.latency);
      Emit(FormatScfStats(st, false));
      if (host_plane_ != nullptr) {
        Emit(host_plane_->FormatStatsLine());
        host_plane_->EmitLatencyEvent();
      }
      next_stat = now + guest_.stat_interval;
    }
    if (smp_workload && guest_.ops_per_vcpu > 0 && st.vcpus_finished == vm_.vcpus) {
      break;
    }
  }
  result.stats = ReadStats();
  // The run's guest latency total: the last read before Shutdown() frees
  // guest memory (a run of ops_per_vcpu ends once every vCPU finished, so
  // nothing is missing from it then).
  LatencyEvent(result.stats.latency);
  UpdateLive(result.stats, o_.watchdogs && o_.heartbeat_interval > absl::ZeroDuration());
  std::vector<int> still_stuck = det.Stuck();
  const absl::Duration ran_for = Elapsed();
  machine_ptr_.store(nullptr, std::memory_order_release);
  {
    absl::MutexLock lock(&period_mu_);
    period_open_ = false;
  }
  // The plane first: every host csd wait ends, so no vCPU thread blocks the
  // shutdown; its ksmd threads are joined once the vCPUs are gone.
  if (host_plane_ != nullptr) host_plane_->StopSenders();
  result.vm = machine_->Shutdown();
  if (host_plane_ != nullptr) {
    host_plane_->Join();
    result.host_plane = true;
    result.host = host_plane_->Result();
    host_plane_->EmitLatencyEvent();
    const auto& hs = result.host.stats;
    Event("hostipi_end", {{"kernel_model", result.host.kernel_model},
                          {"doorbells_sent", hs.doorbells_sent},
                          {"doorbells_taken_in_guest", hs.doorbells_taken_in_guest},
                          {"doorbells_taken_in_host", hs.doorbells_taken_in_host},
                          {"doorbells_ignored", hs.doorbells_ignored},
                          {"csd_calls", result.host.calls},
                          {"exit_calls", result.host.exit_calls},
                          {"csds_run", hs.csds_run},
                          {"max_wait_ns", hs.max_wait_ns},
                          {"stalls_lost", result.host.lost},
                          {"stalls_slow", result.host.slow},
                          {"stores_buffered", result.host.store_buffers.buffered},
                          {"stores_drained_by_drainer", result.host.store_buffers.drained_by_drainer},
                          {"store_max_held_ns", result.host.store_buffers.max_held_ns}});
  }
  if (!s.ok() && result.vm.error.ok()) result.vm.error = s;

  {
    absl::MutexLock lock(&mu_);
    for (auto& [n, st] : stalls_) {
      result.stalls.push_back(st);
      if (st.verdict == StallVerdict::kLost) {
        ++result.lost_stalls;
      } else if (!st.unstuck) {
        // Open at the end without evidence of a lost IPI: it fails the run
        // only once it has lasted a soft-lockup threshold (a hang, whatever
        // its cause); a younger one may just be slow (docs/DESIGN.md).
        absl::Duration open_for =
            ran_for - st.detected_after + absl::Nanoseconds(st.first_report_wait_ns);
        if (open_for >= result.soft_lockup_threshold) {
          ++result.unresolved_stalls;
        } else {
          ++result.slow_stalls;
        }
      } else {
        ++result.slow_stalls;
      }
    }
    result.slow_stalls += evicted_slow_;
    result.guest_errors = guest_errors_;
    result.soft_lockups = lockups_;
    result.io_bytes_synced = io_bytes_;
  }
  const auto& c = result.stats.count;
  std::vector<std::string> why;
  if (!result.vm.error.ok())
    why.push_back(absl::StrCat("guest/VMM error: ", result.vm.error.message()));
  if (c[abi::kCntErrWrongCpu] || c[abi::kCntErrMbIn] || c[abi::kCntErrMbOut]) {
    why.push_back(absl::StrCat("scftorture check errors (ste ", c[abi::kCntErrWrongCpu],
                               ", stnmie ", c[abi::kCntErrMbIn], ", stnmoe ", c[abi::kCntErrMbOut],
                               ")"));
  }
  if (c[abi::kCntVmErrors])
    why.push_back(absl::StrCat(c[abi::kCntVmErrors], " corrupt words (stress --vm)"));
  if (result.lost_stalls) why.push_back(absl::StrCat(result.lost_stalls, " LOST csd stall(s)"));
  if (result.host_plane && result.host.lost > 0) {
    why.push_back(absl::StrCat(result.host.lost, " LOST host-plane (hostipi ",
                               result.host.kernel_model, ") csd stall(s)"));
  }
  if (result.unresolved_stalls) {
    why.push_back(
        absl::StrCat(result.unresolved_stalls,
                     " csd stall(s) open for a soft-lockup threshold or more at the end"));
  }
  if (!still_stuck.empty()) {
    why.push_back(absl::StrCat("vCPU(s) ", absl::StrJoin(still_stuck, ","),
                               " still in soft lockup at the end"));
  }
  result.success = why.empty();
  result.failure_reason = absl::StrJoin(why, "; ");

  Event("scf_stats", {{"final", true}, {"stats", StatsJson(result.stats)}});
  Event("smp_end", {{"success", result.success},
                    {"reason", result.failure_reason},
                    {"lost", result.lost_stalls},
                    {"slow", result.slow_stalls},
                    {"unresolved", result.unresolved_stalls},
                    {"soft_lockups", result.soft_lockups.size()}});
  std::string tail = FormatScfStats(result.stats, true);
  absl::StrAppendFormat(&tail,
                        "kvmbed: csd stalls %d (lost %d, slow %d, unresolved %d), soft lockups %d, "
                        "io %d bytes synced, longest completed csd wait %.3f ms\n",
                        result.stalls.size(), result.lost_stalls, result.slow_stalls,
                        result.unresolved_stalls, result.soft_lockups.size(),
                        result.io_bytes_synced,
                        static_cast<double>(result.stats.max_csd_wait_ns) / 1e6);
  const hostplane::LatencyHistogram& lat = result.stats.latency;
  auto ns = [](double v) {
    return absl::FormatDuration(absl::Trunc(absl::Nanoseconds(v), absl::Microseconds(1)));
  };
  absl::StrAppend(&tail, "kvmbed: csd waits (smp_call_function*, wait=1) ", lat.count,
                  ": p50 <= ", ns(lat.ApproxQuantile(0.5)), ", p99 <= ",
                  ns(lat.ApproxQuantile(0.99)), ", mean ",
                  ns(lat.count ? static_cast<double>(lat.sum_ns) / lat.count : 0.0), ", max ",
                  ns(lat.max_ns), "\n");
  absl::StrAppend(&tail, "scftorture: --- End of test: ", result.success ? "SUCCESS" : "FAILURE",
                  result.success ? "" : absl::StrCat(": ", result.failure_reason), "\n");
  if (host_plane_ != nullptr) tail = host_plane_->FormatStatsLine() + tail;
  Emit(tail);
  {
    absl::MutexLock lock(&mu_);
    live_.done = true;
  }
  return result;
}

absl::Status ValidateGuestSpec(const GuestSpec& g, const VmSpec& vm) {
  auto bad = [&](const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrCat("VM ", vm.name, ": guest.", msg));
  };
  if (g.inject_fault != abi::kFaultNone &&
      (g.inject_fault_vcpu < 0 || g.inject_fault_vcpu >= vm.vcpus)) {
    return bad(absl::StrCat("inject_fault_vcpu = ", g.inject_fault_vcpu, ": use a vCPU 0..",
                            vm.vcpus - 1));
  }
  if (g.weights.size() != abi::kNumPrims) {
    return bad(absl::StrCat("weights has ", g.weights.size(), " entries; give ", abi::kNumPrims,
                            " (resched single single_wait many many_wait all all_wait)"));
  }
  for (size_t i = 0; i < g.weights.size(); ++i) {
    if (g.weights[i] < -1) {
      return bad(absl::StrCat("weights.", kPrimField[i], " = ", g.weights[i],
                              ": use 0 or more (or leave it out for the default)"));
    }
  }
  if (g.stress_cpu < 0 || g.stress_io < 0 || g.stress_vm < 0) {
    return bad("stress cpu/io/vm counts must be >= 0");
  }
  if (g.stress_vm > 0) {
    if (g.stress_vm_bytes < 4096 || g.stress_vm_bytes % 4096 != 0) {
      return bad(absl::StrCat("stress.vm_bytes = ", g.stress_vm_bytes,
                              ": use a multiple of 4 KiB, at least 4K"));
    }
    uint64_t need = abi::SmpHeapBase(vm.vcpus) + g.stress_vm * g.stress_vm_bytes;
    uint64_t have = std::min<uint64_t>(vm.memory_bytes, abi::kLowMemLimit);
    if (need > have) {
      return bad(absl::StrCat("stress: ", g.stress_vm, " vm workers x ", g.stress_vm_bytes >> 10,
                              " KiB need ", (need >> 20) + 1,
                              " MiB of guest RAM below 3 GiB; VM has ", have >> 20,
                              " MiB (raise memory or lower vm/vm_bytes)"));
    }
    int per_vcpu = (g.stress_cpu + g.stress_io + g.stress_vm + vm.vcpus - 1) / vm.vcpus;
    if (per_vcpu > 8) return bad("stress: at most 8 vm workers per vCPU");
  }
  if (abi::SmpHeapBase(vm.vcpus) > vm.memory_bytes && g.workload == GuestWorkload::kTorture) {
    return bad(absl::StrCat("workload torture on ", vm.vcpus, " vCPUs needs ",
                            abi::SmpHeapBase(vm.vcpus) >> 20, " MiB of RAM for its csds"));
  }
  if (g.csd_timeout < absl::ZeroDuration() || g.soft_lockup_threshold < absl::ZeroDuration()) {
    return bad("csd_timeout / soft_lockup must be positive (or left out to calibrate)");
  }
  if (!(g.drop_ipi_fraction >= 0 && g.drop_ipi_fraction <= 1)) {
    return bad(absl::StrCat("fault.drop_ipi_fraction = ", g.drop_ipi_fraction, ": use 0..1"));
  }
  if (g.fault_vcpu < -1 || g.fault_vcpu >= vm.vcpus) {
    return bad(absl::StrCat("fault.vcpu = ", g.fault_vcpu, ": use -1 (all) or 0..", vm.vcpus - 1));
  }
  if (g.stat_interval < absl::ZeroDuration()) return bad("stat_interval must be >= 0");
  if (g.ring != -1 && g.ring != 0 && g.ring != 3) {
    return bad(absl::StrCat("ring = ", g.ring,
                            ": use -1 (auto), 3 (op loop in user mode) or 0 (kernel mode)"));
  }
  if (g.nthreads < 0 || g.nthreads > vm.vcpus) {
    return bad(absl::StrCat("nthreads = ", g.nthreads, ": use 0 (every vCPU) to ", vm.vcpus));
  }
  if (g.handler_delay < absl::ZeroDuration() || g.handler_delay > absl::Seconds(60)) {
    return bad("fault.handler_delay must be 0..60s");
  }
  return absl::OkStatus();
}

int ResolveRing(int ring) {
  if (ring >= 0) return ring;
  return vmm::DetectKvmHost().flavour == "pvm" ? 3 : 0;
}

abi::SmpParams MakeSmpParams(const GuestSpec& g, int n, absl::Duration csd_timeout) {
  abi::SmpParams p{};
  bool all_default = true;
  for (int w : g.weights) all_default &= w <= 0;
  // scftorture's defaults: when no weight is given, 2n/2n/2n/2/2/1/1, with an
  // explicit 0 still disabling its primitive; otherwise unset ones are 0.
  const uint32_t defaults[abi::kNumPrims] = {2u * n, 2u * n, 2u * n, 2, 2, 1, 1};
  for (int i = 0; i < int{abi::kNumPrims}; ++i) {
    int w = i < static_cast<int>(g.weights.size()) ? g.weights[i] : -1;
    if (all_default) {
      p.weights[i] = w == 0 ? 0 : defaults[i];
    } else {
      p.weights[i] = w < 0 ? 0 : static_cast<uint32_t>(w);
    }
  }
  if (g.workload != GuestWorkload::kTorture) {
    for (auto& w : p.weights) w = 0;
  }
  p.ops_per_vcpu = g.ops_per_vcpu;
  p.invokers = static_cast<uint32_t>(g.nthreads);
  p.user_mode = ResolveRing(g.ring) == 3 ? 1 : 0;
  p.csd_timeout_ns = static_cast<uint64_t>(absl::ToInt64Nanoseconds(csd_timeout));
  p.csd_resend = g.csd_resend ? 1 : 0;
  p.fault_vcpu = g.fault_vcpu < 0 ? abi::kAllVcpus : static_cast<uint32_t>(g.fault_vcpu);
  p.drop_ppm = static_cast<uint32_t>(g.drop_ipi_fraction * 1e6 + 0.5);
  p.cpu_workers = static_cast<uint32_t>(g.stress_cpu);
  p.io_workers = static_cast<uint32_t>(g.stress_io);
  p.vm_workers = static_cast<uint32_t>(g.stress_vm);
  p.vm_bytes = g.stress_vm_bytes;
  p.seed = g.seed ? g.seed : static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  p.handler_delay_ns = static_cast<uint64_t>(absl::ToInt64Nanoseconds(g.handler_delay));
  p.bench_sender = p.bench_target = abi::kAllVcpus;
  return p;
}

std::string FormatScfStats(const SmpStats& s, bool done) {
  const auto& i = s.invoked;
  const auto& c = s.count;
  bool bang = c[abi::kCntErrWrongCpu] || c[abi::kCntErrMbIn] || c[abi::kCntErrMbOut] ||
              c[abi::kCntErrAlloc];
  return absl::StrFormat(
      "scftorture: %sscf_invoked_count %s: %d resched: %d single: %d/%d single_ofl: 0/0 "
      "single_rpc: 0 single_rpc_ofl: 0 many: %d/%d all: %d/%d ste: %d stnmie: %d stnmoe: %d "
      "staf: %d\n"
      "kvmbed: ipis sent %d taken %d dropped %d resched %d | csd stalls %d resends %d longest completed wait "
      "%.3f ms | stress cpu %d io %d vm %d pages (%d corrupt)\n",
      bang ? "!!! " : "", done ? "VER" : "ver", c[abi::kCntInvoked], i[abi::kPrimResched],
      i[abi::kPrimSingle], i[abi::kPrimSingleWait], i[abi::kPrimMany], i[abi::kPrimManyWait],
      i[abi::kPrimAll], i[abi::kPrimAllWait], c[abi::kCntErrWrongCpu], c[abi::kCntErrMbIn],
      c[abi::kCntErrMbOut], c[abi::kCntErrAlloc], c[abi::kCntIpisSent], c[abi::kCntIpiIrqs],
      c[abi::kCntIpisDropped], c[abi::kCntReschedIrqs], c[abi::kCntCsdStalls],
      c[abi::kCntCsdResends], static_cast<double>(s.max_csd_wait_ns) / 1e6, c[abi::kCntCpuOps],
      c[abi::kCntIoOps], c[abi::kCntVmPages], c[abi::kCntVmErrors]);
}

nlohmann::json VmSummaryEventFields(const vmm::VmSummary& s) {
  nlohmann::json vcpus = nlohmann::json::array();
  for (const vmm::VcpuSummary& v : s.vcpu) {
    vcpus.push_back({{"vcpu", v.id},
                     {"pinned", v.pinned},
                     {"affinity_requested", v.affinity_requested},
                     {"affinity_in_force", v.affinity_in_force},
                     {"ran_on", v.ran_on},
                     {"exits", v.exits},
                     {"kicks", v.kicks},
                     {"heartbeats", v.heartbeats},
                     {"state", v.state}});
  }
  return {{"vm", s.name},
          {"vcpus", s.vcpus},
          {"memory_bytes", s.memory_bytes},
          {"all_online", s.all_online},
          {"boot_ms", absl::ToDoubleMilliseconds(s.boot_time)},
          {"run_s", absl::ToDoubleSeconds(s.run_time)},
          {"error", s.error.ok() ? "" : std::string(s.error.message())},
          {"per_vcpu", vcpus}};
}

nlohmann::json LatencyEventFields(const hostplane::LatencyHistogram& h, const std::string& plane,
                                  const std::string& vm) {
  nlohmann::json buckets = nlohmann::json::array();
  for (size_t b = 0; b < h.counts.size(); ++b) {
    if (h.counts[b] == 0) continue;
    buckets.push_back({int64_t{1} << b, h.counts[b]});
  }
  return {{"plane", plane}, {"vm", vm},          {"unit", "ns"},          {"buckets", buckets},
          {"count", h.count}, {"sum_ns", h.sum_ns}, {"max_ns", h.max_ns}};
}

SmpRunner::SmpRunner(std::unique_ptr<SmpSession> impl) : impl_(std::move(impl)) {}
SmpRunner::~SmpRunner() = default;

SmpLive SmpRunner::Live() const { return impl_->Live(); }

uint64_t SmpRunner::EndWaitPeriod() { return impl_->EndWaitPeriod(); }

uint64_t SmpRunner::EndHostWaitPeriod() { return impl_->EndHostWaitPeriod(); }

absl::StatusOr<std::unique_ptr<SmpRunner>> SmpRunner::Create(const VmSpec& vm,
                                                             const GuestSpec& guest,
                                                             const SmpRunOptions& options) {
  auto impl = std::make_unique<SmpSession>(vm, guest, options);
  RETURN_IF_ERROR(impl->Setup());
  return std::unique_ptr<SmpRunner>(new SmpRunner(std::move(impl)));
}

absl::StatusOr<SmpRunResult> SmpRunner::Run() { return impl_->Run(); }

void SmpRunner::RequestStop() { impl_->RequestStop(); }

hostipi::PlaneStats SmpRunner::HostPlaneStats() const { return impl_->HostStats(); }

absl::StatusOr<SmpRunResult> RunSmpWorkload(const VmSpec& vm, const GuestSpec& guest,
                                            const SmpRunOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<SmpRunner> r, SmpRunner::Create(vm, guest, options));
  return r->Run();
}

absl::StatusOr<std::vector<SmpRunResult>> RunGuestWorkloads(
    const RunSpec& run, std::function<void(const std::string&)> out, EventLog* events,
    const std::function<void(SmpRunner&)>& on_created, const SmpRunOptions& base_options,
    const std::function<void()>& on_finished) {
  for (const VmSpec& vm : run.vms) RETURN_IF_ERROR(ValidateGuestSpec(run.GuestFor(vm.name), vm));
  absl::Mutex mu;
  const bool many = run.vms.size() > 1;
  auto sink = [&](size_t i) {
    return [&, i](const std::string& text) {
      std::string t = text;
      if (many) {
        t.clear();
        for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
          absl::StrAppend(&t, run.vms[i].name, ": ", line, "\n");
        }
      }
      absl::MutexLock lock(&mu);
      if (out) {
        out(t);
      } else {
        std::fwrite(t.data(), 1, t.size(), stdout);
        std::fflush(stdout);
      }
    };
  };
  // Create (validate, calibrate, build) every VM before any runs, so a bad
  // spec stops the run before anything starts.
  std::vector<std::unique_ptr<SmpRunner>> runners;
  for (size_t i = 0; i < run.vms.size(); ++i) {
    SmpRunOptions o = base_options;
    o.duration = run.duration;
    o.events = events;
    o.out = sink(i);
    o.hugepages = run.thp;
    o.mergeable = run.ksm;
    o.hostipi = run.hostipi;
    absl::StatusOr<std::unique_ptr<SmpRunner>> r =
        SmpRunner::Create(run.vms[i], run.GuestFor(run.vms[i].name), o);
    if (!r.ok()) {
      return absl::Status(r.status().code(), absl::StrCat(run.source, ": vm '", run.vms[i].name,
                                                          "': ", r.status().message()));
    }
    runners.push_back(std::move(*r));
    if (on_created) on_created(*runners.back());
  }
  std::vector<absl::StatusOr<SmpRunResult>> results(run.vms.size(), absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < runners.size(); ++i) {
    threads.emplace_back([&, i]() { results[i] = runners[i]->Run(); });
  }
  for (auto& t : threads) t.join();
  if (on_finished) on_finished();
  std::vector<SmpRunResult> ok;
  for (auto& r : results) {
    if (!r.ok()) return r.status();
    ok.push_back(std::move(*r));
  }
  return ok;
}

}  // namespace runner
}  // namespace kvmbed
