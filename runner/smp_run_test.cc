// KVM integration: the guest's smp_call_function traffic runs clean, and the
// watchdogs see what they should when the target drops IPIs (fault
// injection). These tests fail if stall detection, the report's contents or
// the LOST/SLOW verdict break.
#include "runner/smp_run.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/event_log.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "vmm/test_vm.h"
#include "guest/abi.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace runner {
namespace {

struct Captured {
  std::string text;
  SmpRunOptions Options(absl::Duration d) {
    SmpRunOptions o;
    o.duration = d;
    o.out = [this](const std::string& t) { text += t; };
    return o;
  }
};

// Bucket b of the log2 rule holds (2^(b-1), 2^b] ns (bucket 0: <= 1 ns).
int64_t LowerBound(size_t b) { return b == 0 ? 0 : int64_t{1} << (b - 1); }
int64_t UpperBound(size_t b) { return int64_t{1} << b; }

// Checks that `h` could come from real samples: count is the bucket sum, the
// mean lies inside the non-empty buckets' span, max_ns sits in the highest
// non-empty bucket (so it is above every non-empty bucket's lower bound).
void ExpectPlausible(const hostplane::LatencyHistogram& h) {
  int64_t total = 0;
  size_t lo = h.counts.size(), hi = 0;
  for (size_t b = 0; b < h.counts.size(); ++b) {
    total += h.counts[b];
    if (h.counts[b] > 0) {
      lo = std::min(lo, b);
      hi = b;
    }
  }
  EXPECT_EQ(total, h.count);
  ASSERT_GT(h.count, 0);
  const double mean = static_cast<double>(h.sum_ns) / static_cast<double>(h.count);
  EXPECT_GT(mean, static_cast<double>(LowerBound(lo))) << "mean below the lowest bucket";
  EXPECT_LE(mean, static_cast<double>(UpperBound(hi))) << "mean above the highest bucket";
  EXPECT_GT(h.max_ns, LowerBound(hi)) << "max below a non-empty bucket";
  if (hi + 1 < h.counts.size()) {
    EXPECT_LE(h.max_ns, UpperBound(hi));
  }
  EXPECT_LE(h.sum_ns, h.max_ns * h.count);
}

class SmpRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KVMBED_SKIP_WITHOUT_KVM();
  }
};

TEST(SmpParamsTest, ScftortureDefaultWeights) {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  abi::SmpParams p = MakeSmpParams(g, 4, absl::Seconds(1));
  const uint32_t want[] = {8, 8, 8, 2, 2, 1, 1};
  for (int i = 0; i < int{abi::kNumPrims}; ++i) EXPECT_EQ(p.weights[i], want[i]) << i;
  g.weights = {-1, -1, 5, -1, -1, -1, -1};  // one given: the others are off
  p = MakeSmpParams(g, 4, absl::Seconds(1));
  EXPECT_EQ(p.weights[abi::kPrimSingleWait], 5u);
  EXPECT_EQ(p.weights[abi::kPrimSingle], 0u);
  g.weights = {0, -1, -1, -1, -1, -1, -1};  // 0 disables, the rest default
  p = MakeSmpParams(g, 4, absl::Seconds(1));
  EXPECT_EQ(p.weights[abi::kPrimResched], 0u);
  EXPECT_EQ(p.weights[abi::kPrimAll], 1u);
  EXPECT_EQ(p.csd_timeout_ns, 1000000000u);
}

TEST(SmpParamsTest, BadGuestSpecsNameTheField) {
  VmSpec vm = vmm::PinnedTestVm("smp", 2);
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.drop_ipi_fraction = 2;
  auto s = ValidateGuestSpec(g, vm);
  EXPECT_TRUE(absl::StrContains(s.message(), "drop_ipi_fraction")) << s;
  g.drop_ipi_fraction = 0;
  g.fault_vcpu = 2;
  s = ValidateGuestSpec(g, vm);
  EXPECT_TRUE(absl::StrContains(s.message(), "fault.vcpu")) << s;
  g.fault_vcpu = -1;
  g.inject_fault = abi::kFaultTriple;
  g.inject_fault_vcpu = 2;
  s = ValidateGuestSpec(g, vm);
  EXPECT_TRUE(absl::StrContains(s.message(), "inject_fault_vcpu = 2: use a vCPU 0..1")) << s;
  g.inject_fault_vcpu = 1;
  EXPECT_TRUE(ValidateGuestSpec(g, vm).ok());
  g.inject_fault = abi::kFaultNone;
  g.weights = {1, 2};
  s = ValidateGuestSpec(g, vm);
  EXPECT_TRUE(absl::StrContains(s.message(), "weights")) << s;
  g.weights = {-1, -1, -1, -1, -1, -1, -1};
  g.stress_vm = 1;
  g.stress_vm_bytes = 1ull << 30;
  s = ValidateGuestSpec(g, vm);
  EXPECT_TRUE(absl::StrContains(s.message(), "raise memory")) << s;
  g.stress_vm_bytes = 100;
  s = ValidateGuestSpec(g, vm);
  EXPECT_TRUE(absl::StrContains(s.message(), "vm_bytes")) << s;
}

class CleanRunTest : public SmpRunTest, public ::testing::WithParamInterface<int> {};

// Both op-loop modes: ring 3 (the default) and ring 0.
INSTANTIATE_TEST_SUITE_P(Rings, CleanRunTest, ::testing::Values(3, 0));

TEST_P(CleanRunTest, CleanTortureRunSucceedsWithZeroStalls) {
  GuestSpec g;
  g.ring = GetParam();
  g.workload = GuestWorkload::kTorture;
  g.ops_per_vcpu = 150;
  // Far above any wait this 2-core host produces (hundreds of ms at worst
  // under load), so a report here means a real stall.
  g.csd_timeout = absl::Seconds(5);
  g.stress_cpu = 1;
  g.stress_io = 1;
  g.stress_vm = 1;
  g.stress_vm_bytes = 256 << 10;
  g.stat_interval = absl::Milliseconds(200);
  Captured out;
  auto r = RunSmpWorkload(vmm::PinnedTestVm("smp", 4), g, out.Options(absl::Seconds(20)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->success) << r->failure_reason << "\n" << out.text;
  EXPECT_EQ(r->exit_code(), 0);
  EXPECT_TRUE(r->stalls.empty()) << out.text;
  EXPECT_TRUE(r->soft_lockups.empty()) << out.text;
  EXPECT_EQ(r->stats.vcpus_finished, 4);
  uint64_t ops = 0;
  for (int p = 0; p < int{abi::kNumPrims}; ++p) {
    EXPECT_GT(r->stats.invoked[p], 0u) << "primitive " << p << " never ran";
    ops += r->stats.invoked[p];
  }
  // vCPU 0 carries the cpu worker (ring 3, no torture ops of its own).
  EXPECT_EQ(ops, 3u * 150u);
  const auto& c = r->stats.count;
  EXPECT_GT(c[abi::kCntInvoked], 0u);
  EXPECT_GT(c[abi::kCntIpiIrqs], 0u);
  EXPECT_EQ(c[abi::kCntIpisDropped], 0u);
  EXPECT_EQ(c[abi::kCntErrWrongCpu] + c[abi::kCntErrMbIn] + c[abi::kCntErrMbOut], 0u);
  EXPECT_EQ(c[abi::kCntCsdStalls], 0u);
  EXPECT_EQ(c[abi::kCntIoOps], 150u);
  EXPECT_EQ(r->io_bytes_synced, 150u * 4096u);
  EXPECT_GT(c[abi::kCntVmPages], 0u);
  EXPECT_GT(c[abi::kCntCpuOps], 0u) << "the ring-3 FP loop never ran";
  EXPECT_EQ(c[abi::kCntVmErrors], 0u);
  // The latency histogram: one sample per wait=1 call with a remote target
  // (a single_wait call that picked its own vCPU runs locally: no sample).
  const auto& i = r->stats.invoked;
  const int64_t many_all = static_cast<int64_t>(i[abi::kPrimManyWait] + i[abi::kPrimAllWait]);
  EXPECT_GE(r->stats.latency.count, many_all);
  EXPECT_LE(r->stats.latency.count, many_all + static_cast<int64_t>(i[abi::kPrimSingleWait]));
  ExpectPlausible(r->stats.latency);
  EXPECT_TRUE(absl::StrContains(out.text, "kvmbed: csd waits (smp_call_function*, wait=1) "))
      << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, "scf_invoked_count VER")) << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, "End of test: SUCCESS")) << out.text;
}

// vCPU 1 drops every call-function IPI; vCPU 0 calls it with wait. The stall
// must be reported within the threshold, name waiter 0, target 1 and
// scf_handler_1, say the target handles nothing, and be judged LOST.
TEST_F(SmpRunTest, DroppedIpiIsDetectedReportedAndLost) {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.weights = {0, 0, 1, 0, 0, 0, 0};  // single_wait only
  g.csd_timeout = absl::Milliseconds(50);
  g.soft_lockup_threshold = absl::Milliseconds(300);
  g.fault_vcpu = 1;
  g.drop_ipi_fraction = 1.0;
  g.stat_interval = absl::ZeroDuration();
  Captured out;
  std::string log_path = absl::StrCat(::testing::TempDir(), "/smp_events.jsonl");
  auto log = EventLog::Open(log_path);
  ASSERT_TRUE(log.ok()) << log.status();
  SmpRunOptions options = out.Options(absl::Milliseconds(1500));
  options.events = log->get();
  auto r = RunSmpWorkload(vmm::PinnedTestVm("smp", 2), g, options);
  ASSERT_TRUE(r.ok()) << r.status();
  log->reset();
  std::ifstream in(log_path);
  std::string events((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(absl::StrContains(events, "\"type\":\"stall\"")) << events;
  EXPECT_TRUE(absl::StrContains(events, "\"verdict\":\"lost\"")) << events;
  EXPECT_TRUE(absl::StrContains(events, "\"type\":\"vm_online\"")) << events;
  EXPECT_TRUE(absl::StrContains(events, "\"type\":\"heartbeats\"")) << events;
  EXPECT_TRUE(absl::StrContains(events, "\"type\":\"soft_lockup\"")) << events;
  EXPECT_TRUE(absl::StrContains(events, "\"type\":\"smp_end\"")) << events;
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->exit_code(), 1);
  ASSERT_FALSE(r->stalls.empty()) << "no stall detected:\n" << out.text;
  // The stall of vCPU 0 waiting on vCPU 1 (whose IPIs are dropped). On a
  // loaded host a slow wait (vCPU 1 waiting for vCPU 0) may be reported
  // before it, so it need not be the first.
  const CsdStall* found = nullptr;
  for (const CsdStall& c : r->stalls) {
    if (c.waiter == 0 && c.target == 1) {
      found = &c;
      break;
    }
  }
  ASSERT_NE(found, nullptr) << "no stall of vCPU 0 waiting on vCPU 1:\n" << out.text;
  const CsdStall& s = *found;
  const std::string num = absl::StrCat("(#", s.number, ")");
  EXPECT_EQ(s.func_name, "scf_handler_1");
  EXPECT_EQ(s.activity, hostipi::TargetActivity::kNothing);
  EXPECT_EQ(s.verdict, hostipi::StallVerdict::kLost) << s.first_report;
  EXPECT_TRUE(s.target_snapshot_ok) << s.first_report;
  EXPECT_FALSE(s.unstuck);
  // Reported once the wait passed the threshold, and well inside the run.
  EXPECT_GE(s.first_report_wait_ns, 50 * 1000 * 1000);
  EXPECT_LT(s.first_report_wait_ns, 50 * 1000 * 1000 + 1000 * 1000 * 1000)
      << "reported long after the threshold";
  EXPECT_LT(s.detected_after, absl::Milliseconds(1500));
  EXPECT_GE(s.reports, 2) << "expected Continued reports:\n" << out.text;
  EXPECT_GE(r->lost_stalls, 1);
  EXPECT_TRUE(absl::StrContains(
      out.text, absl::StrCat("csd: Detected non-responsive CSD lock ", num, " on CPU#0, waiting ")))
      << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, " ns for CPU#01 scf_handler_1+0x0/")) << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, "csd: CPU#01 is handling no request")) << out.text;
  EXPECT_TRUE(
      absl::StrContains(out.text, absl::StrCat("csd: Continued non-responsive CSD lock ", num)))
      << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, "verdict: LOST")) << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, "dropped by fault injection")) << out.text;
  // The waiter spins in csd_lock_wait without a heartbeat: a soft lockup.
  ASSERT_FALSE(r->soft_lockups.empty()) << out.text;
  EXPECT_EQ(r->soft_lockups.front().vcpu, 0);
  // Stuck in csd_lock_wait (or, at the moment of the snapshot, in an IPI
  // handler it took while spinning there).
  EXPECT_FALSE(r->soft_lockups.front().rip.empty()) << r->soft_lockups.front().report;
  EXPECT_TRUE(absl::StrContains(r->soft_lockups.front().report, "waiting for csd 0x"))
      << r->soft_lockups.front().report;
  EXPECT_TRUE(absl::StrContains(out.text, "watchdog: BUG: soft lockup - vCPU#0 stuck for "))
      << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, "End of test: FAILURE")) << out.text;
}

// Half the IPIs to vCPU 1 are dropped, csdlock_debug re-sends: stalls clear
// after a re-send, and a wait that needed one is LOST, not SLOW.
TEST_F(SmpRunTest, ResendUnsticksAndTheStallIsStillLost) {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.weights = {0, 0, 1, 0, 0, 0, 0};
  g.csd_timeout = absl::Milliseconds(20);
  g.soft_lockup_threshold = absl::Seconds(5);
  g.csd_resend = true;
  g.fault_vcpu = 1;
  g.drop_ipi_fraction = 0.5;
  g.stat_interval = absl::ZeroDuration();
  Captured out;
  auto r = RunSmpWorkload(vmm::PinnedTestVm("smp", 2), g, out.Options(absl::Milliseconds(1500)));
  ASSERT_TRUE(r.ok()) << r.status();
  // A stall that cleared only after a re-send is LOST; one that cleared on
  // its own (this host stalls threads for tens of ms) may be SLOW.
  int unstuck_after_resend = 0;
  for (const CsdStall& s : r->stalls) {
    if (!s.unstuck || s.resends == 0) continue;
    ++unstuck_after_resend;
    EXPECT_EQ(s.verdict, hostipi::StallVerdict::kLost) << s.first_report;
  }
  EXPECT_GT(unstuck_after_resend, 0) << out.text;
  EXPECT_GT(r->stats.count[abi::kCntCsdResends], 0u);
  EXPECT_TRUE(absl::StrContains(out.text, "csd: Re-sending CSD lock (#")) << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, "got unstuck on CPU#00")) << out.text;
  EXPECT_EQ(r->exit_code(), 1);
}

// A slow handler (not a lost IPI): the waits pass the threshold, the reports
// say the target is handling this request, every stall clears on its own
// and is SLOW, and the run still succeeds.
TEST_F(SmpRunTest, SlowHandlerIsSlowNotLost) {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.weights = {0, 0, 1, 0, 0, 0, 0};
  g.nthreads = 1;        // only vCPU 0 calls; vCPU 1 only serves
  g.ops_per_vcpu = 20;   // half of them go to vCPU 1 (the others run locally)
  g.csd_timeout = absl::Milliseconds(20);
  g.soft_lockup_threshold = absl::Seconds(5);
  g.handler_delay = absl::Milliseconds(50);
  g.fault_vcpu = 1;
  g.stat_interval = absl::ZeroDuration();
  Captured out;
  auto r = RunSmpWorkload(vmm::PinnedTestVm("smp", 2), g, out.Options(absl::Seconds(20)));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->stalls.empty()) << out.text;
  for (const CsdStall& s : r->stalls) {
    EXPECT_EQ(s.verdict, hostipi::StallVerdict::kSlow) << s.first_report;
    EXPECT_TRUE(s.unstuck) << s.first_report;
    EXPECT_EQ(s.resends, 0u);
  }
  EXPECT_TRUE(absl::StrContains(out.text, "is handling this request")) << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, "got unstuck")) << out.text;
  EXPECT_EQ(r->lost_stalls, 0);
  EXPECT_TRUE(r->success) << r->failure_reason << "\n" << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, "End of test: SUCCESS")) << out.text;
}

// A target that never finishes its handler is no lost IPI (SLOW), but a
// stall still open after a soft-lockup threshold at the end fails the run.
TEST_F(SmpRunTest, HungHandlerFailsAsUnresolved) {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.weights = {0, 0, 1, 0, 0, 0, 0};
  g.csd_timeout = absl::Milliseconds(30);
  g.soft_lockup_threshold = absl::Milliseconds(200);
  g.handler_delay = absl::Seconds(30);
  g.fault_vcpu = 1;
  g.stat_interval = absl::ZeroDuration();
  Captured out;
  auto r = RunSmpWorkload(vmm::PinnedTestVm("smp", 2), g, out.Options(absl::Seconds(1)));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->stalls.empty()) << out.text;
  EXPECT_EQ(r->lost_stalls, 0) << out.text;
  EXPECT_GE(r->unresolved_stalls, 1) << out.text;
  // The target may be stuck in our request's handler or in a local call of
  // its own with our IPI pending: SLOW either way, never LOST.
  EXPECT_EQ(r->stalls.front().verdict, hostipi::StallVerdict::kSlow)
      << r->stalls.front().first_report;
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(absl::StrContains(r->failure_reason, "open for a soft-lockup threshold"))
      << r->failure_reason;
}

// stress --vm verifies what it wrote: the host scribbles over the span while
// the guest runs, and the guest must report the corrupt words.
TEST_F(SmpRunTest, VmWorkerReportsCorruption) {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.weights = {0, -1, -1, -1, -1, -1, -1};  // scftorture's defaults, resched off
  g.stress_vm = 1;
  g.stress_vm_bytes = 64 << 10;
  g.csd_timeout = absl::Seconds(2);
  g.stat_interval = absl::ZeroDuration();
  Captured out;
  SmpRunOptions o = out.Options(absl::Seconds(2));
  const uint64_t span = abi::SmpHeapBase(2);
  o.on_poll = [&](vmm::Machine& m) {
    uint64_t junk = 0xdeadbeefdeadbeefull;
    for (uint64_t page = 0; page < 16; ++page) {
      ASSERT_TRUE(m.memory().Write(span + page * 4096, &junk, sizeof(junk)).ok());
    }
  };
  auto r = RunSmpWorkload(vmm::PinnedTestVm("smp", 2), g, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->stats.count[abi::kCntVmErrors], 0u) << out.text;
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(absl::StrContains(r->failure_reason, "corrupt words")) << r->failure_reason;
  EXPECT_TRUE(absl::StrContains(out.text, "stress: !!! vCPU#")) << out.text;
  EXPECT_TRUE(absl::StrContains(out.text, "read 0xdeadbeefdeadbeef")) << out.text;
}

// Ctrl-C: RequestStop() ends a long run soon, with the usual verdict.
TEST_F(SmpRunTest, RequestStopEndsTheRunWithAVerdict) {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.csd_timeout = absl::Seconds(2);
  g.stat_interval = absl::ZeroDuration();
  Captured out;
  auto runner = SmpRunner::Create(vmm::PinnedTestVm("smp", 2), g, out.Options(absl::Seconds(60)));
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(300));
    (*runner)->RequestStop();
  });
  absl::Time start = absl::Now();
  auto r = (*runner)->Run();
  stopper.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << "RequestStop did not end the run";
  EXPECT_TRUE(r->success) << r->failure_reason << "\n" << out.text;
  EXPECT_GT(r->stats.count[abi::kCntInvoked], 0u);
  EXPECT_TRUE(absl::StrContains(out.text, "End of test: SUCCESS")) << out.text;
  EXPECT_FALSE((*runner)->Run().ok()) << "Run() twice must fail";
}

// `kvmbed run` with two VMs: both run concurrently, their lines carry the VM
// name, and each ends with its own verdict.
TEST_F(SmpRunTest, TwoVmsRunConcurrently) {
  RunSpec run;
  run.name = "two";
  run.duration = absl::Seconds(20);
  run.guest.workload = GuestWorkload::kTorture;
  run.guest.ops_per_vcpu = 40;
  run.guest.csd_timeout = absl::Seconds(2);
  run.guest.stat_interval = absl::ZeroDuration();
  for (const char* name : {"a", "b"}) {
    VmSpec vm = vmm::PinnedTestVm("smp", 2);
    vm.name = name;
    run.vms.push_back(vm);
  }
  std::string text;
  auto r = RunGuestWorkloads(run, [&](const std::string& t) { text += t; });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  for (const SmpRunResult& vm : *r) {
    EXPECT_TRUE(vm.success) << vm.failure_reason << "\n" << text;
    EXPECT_EQ(vm.stats.vcpus_finished, 2);
  }
  EXPECT_TRUE(absl::StrContains(text, "a: scftorture: --- End of test: SUCCESS")) << text;
  EXPECT_TRUE(absl::StrContains(text, "b: scftorture: --- End of test: SUCCESS")) << text;
}

// Only many_wait and all_wait: every op is one wait=1 call on every other
// vCPU, so the guest histogram must count exactly those calls, agree with
// the guest's own csd_lock_wait maximum, and go out as the docs/events.md
// "ipi_latency" event (plane "guest") with the same numbers.
TEST_F(SmpRunTest, GuestLatencyHistogramCountsEveryWaitCall) {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.weights = {0, 0, 0, 0, 1, 0, 1};
  g.ops_per_vcpu = 60;
  g.csd_timeout = absl::Seconds(5);
  g.stat_interval = absl::Milliseconds(200);
  const std::string path = absl::StrCat(::testing::TempDir(), "/guestlat_events.jsonl");
  auto log = EventLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  Captured out;
  SmpRunOptions o = out.Options(absl::Seconds(30));
  o.events = log->get();
  auto r = RunSmpWorkload(vmm::PinnedTestVm("lat", 3), g, o);
  ASSERT_TRUE(r.ok()) << r.status();
  log->reset();
  EXPECT_TRUE(r->success) << r->failure_reason << "\n" << out.text;
  ASSERT_EQ(r->stats.vcpus_finished, 3);
  const auto& i = r->stats.invoked;
  EXPECT_EQ(i[abi::kPrimManyWait] + i[abi::kPrimAllWait], 3u * 60u);
  const hostplane::LatencyHistogram& h = r->stats.latency;
  EXPECT_EQ(h.count, 3 * 60) << "one sample per wait=1 call";
  ExpectPlausible(h);
  // Every csd_lock_wait of these calls lies inside one sample (ns rounding).
  EXPECT_LE(static_cast<int64_t>(r->stats.max_csd_wait_ns), h.max_ns + 1);

  std::ifstream in(path);
  std::string line;
  nlohmann::json last;
  int guest_events = 0;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j["type"] != "ipi_latency") continue;
    EXPECT_EQ(j["plane"], "guest") << line;
    EXPECT_EQ(j["vm"], "lat") << line;
    EXPECT_EQ(j["unit"], "ns") << line;
    int64_t sum = 0;
    int64_t prev = 0;
    for (const auto& b : j["buckets"]) {
      EXPECT_GT(b[0].get<int64_t>(), prev) << "bounds increase: " << line;
      prev = b[0].get<int64_t>();
      sum += b[1].get<int64_t>();
    }
    EXPECT_EQ(sum, j["count"].get<int64_t>()) << line;
    ++guest_events;
    last = j;
  }
  ASSERT_GE(guest_events, 1) << "no ipi_latency event";
  EXPECT_EQ(last["count"].get<int64_t>(), h.count);
  EXPECT_EQ(last["sum_ns"].get<int64_t>(), h.sum_ns);
  EXPECT_EQ(last["max_ns"].get<int64_t>(), h.max_ns);
  for (const auto& b : last["buckets"]) {
    const int64_t upper = b[0].get<int64_t>();
    size_t bucket = 0;
    while ((int64_t{1} << bucket) < upper) ++bucket;
    EXPECT_EQ(b[1].get<int64_t>(), h.counts[bucket]) << "bucket " << upper;
  }
}

// The per-period maximum (SmpRunner::EndWaitPeriod): vCPU 1's handlers
// busy-wait 20 ms, and vCPU 0 calls vCPU 1 with wait all the time, so every
// period of the run holds a wait of at least 20 ms; no period's maximum may
// exceed the run's. The old "max only when the run record rose" gave 0 for
// most periods.
// A long soak on a busy host sees slow stalls every second: the runner keeps
// every count but only a bounded number of resolved slow records and texts.
TEST_F(SmpRunTest, SlowStallRecordsAreBoundedButCounted) {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.weights = {0, 0, 1, 0, 0, 0, 0};  // single_wait only
  g.nthreads = 1;                     // vCPU 0 invokes; vCPU 1 only serves
  g.fault_vcpu = 1;
  g.handler_delay = absl::Milliseconds(30);  // every call to vCPU 1 is slow
  g.csd_timeout = absl::Milliseconds(10);
  g.soft_lockup_threshold = absl::Seconds(20);
  g.stat_interval = absl::ZeroDuration();
  Captured out;
  SmpRunOptions o = out.Options(absl::Seconds(3));
  o.max_stall_records = 4;
  o.kept_report_texts = 2;
  auto r = RunSmpWorkload(vmm::PinnedTestVm("smp", 2), g, o);
  ASSERT_TRUE(r.ok()) << r.status();
  int detected = 0;
  for (size_t at = 0; (at = out.text.find("csd: Detected non-responsive CSD lock", at)) !=
                      std::string::npos;
       ++at) {
    ++detected;
  }
  std::printf("%d stalls detected, %zu records kept, %d slow, %d lost\n", detected,
              r->stalls.size(), r->slow_stalls, r->lost_stalls);
  ASSERT_GT(detected, 8) << out.text;
  EXPECT_EQ(r->lost_stalls, 0) << out.text;
  EXPECT_EQ(r->slow_stalls + r->unresolved_stalls, detected);
  EXPECT_LE(r->stalls.size(), 5u);  // 4 resolved + at most the one still open
  int texts = 0;
  for (const CsdStall& s : r->stalls) texts += s.first_report.empty() ? 0 : 1;
  EXPECT_LE(texts, 3);  // 2 resolved + the open one
  EXPECT_TRUE(r->success) << r->failure_reason;
}

TEST_F(SmpRunTest, PerPeriodMaxSeesEachPeriodsLongestWait) {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.weights = {0, 0, 1, 0, 0, 0, 0};  // single_wait only
  g.nthreads = 1;                     // vCPU 0 invokes; vCPU 1 only serves
  g.fault_vcpu = 1;
  g.handler_delay = absl::Milliseconds(20);
  g.csd_timeout = absl::Seconds(5);
  g.stat_interval = absl::ZeroDuration();
  Captured out;
  auto runner = SmpRunner::Create(vmm::PinnedTestVm("smp", 2), g, out.Options(absl::Seconds(3)));
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::atomic<bool> ran{false};
  absl::StatusOr<SmpRunResult> r = absl::UnknownError("not run");
  std::thread t([&] {
    r = (*runner)->Run();
    ran.store(true);
  });
  std::vector<uint64_t> periods;
  while (!ran.load() && !(*runner)->Live().online) absl::SleepFor(absl::Milliseconds(10));
  (*runner)->EndWaitPeriod();  // drop the period that held the boot
  absl::SleepFor(absl::Milliseconds(400));
  while (!ran.load() && periods.size() < 5) {
    periods.push_back((*runner)->EndWaitPeriod());
    absl::SleepFor(absl::Milliseconds(400));
  }
  t.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->success) << r->failure_reason << "\n" << out.text;
  EXPECT_EQ((*runner)->EndWaitPeriod(), 0u) << "no reads of a stopped VM";
  ASSERT_GE(periods.size(), 3u);
  ExpectPlausible(r->stats.latency);
  for (size_t p = 0; p < periods.size(); ++p) {
    EXPECT_GE(periods[p], 20'000'000u) << "period " << p << " lost its slow calls";
    EXPECT_LE(periods[p], static_cast<uint64_t>(r->stats.latency.max_ns)) << "period " << p;
  }
}

}  // namespace
}  // namespace runner
}  // namespace kvmbed
