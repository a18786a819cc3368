// KVM integration: `kvmbed run` with a `hostipi:` section runs the modelled
// POWER host plane on the VM's vCPU threads alongside the guest workload.
// vCPU threads handling the guest's IO exits (stress --io) call the other
// host CPUs and wait, a ksmd thread calls the vCPUs; the counters land in
// runner::SmpRunResult::host and the events in the log.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "base/event_log.h"
#include "scenarios/lost_host_ipi_kvm.h"
#include "runner/run_spec.h"
#include "gtest/gtest.h"
#include "vmm/test_vm.h"
#include "vmm/kvm.h"
#include "runner/smp_run.h"

namespace kvmbed {
namespace vmm {
namespace {

GuestSpec IoGuest() {
  GuestSpec g;
  g.workload = GuestWorkload::kTorture;
  g.weights = {1, 0, 1, 0, 0, 0, 0};  // a little guest-plane traffic too
  g.stress_io = 2;                    // IO exits: the "page faults"
  g.csd_timeout = absl::Seconds(5);
  g.soft_lockup_threshold = absl::Seconds(20);
  g.stat_interval = absl::ZeroDuration();
  return g;
}

TEST(HostPlaneSmpTest, RunsAlongsideTheGuestWorkloadAndCountsIntoTheResult) {
  KVMBED_SKIP_WITHOUT_KVM();
  std::string path = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
                     "/host_plane_smp.jsonl";
  auto events = EventLog::Open(path);
  ASSERT_TRUE(events.ok());
  std::string text;
  runner::SmpRunOptions o;
  o.duration = absl::Seconds(3);
  o.out = [&](const std::string& t) { text += t; };
  o.events = events->get();
  o.hostipi.enabled = true;
  o.hostipi.kernel_model = *hostipi::KernelModel::Preset("v5.4");
  o.hostipi.ksmd_threads = 1;
  o.hostipi.exit_call_probability = 1;
  o.hostipi.resched_fraction = 0.5;
  auto r = runner::RunSmpWorkload(PinnedTestVm("hp-smp", 2), IoGuest(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "hostipi:")) std::printf("%s\n", std::string(line).c_str());
  }
  std::printf("%s", r->host.first_report.c_str());
  EXPECT_TRUE(r->host_plane);
  EXPECT_TRUE(r->host.threshold_calibrated);
  EXPECT_GT(r->host.stats.doorbells_sent, 0) << text;
  EXPECT_GT(r->host.stats.doorbells_taken_in_guest, 0) << text;
  EXPECT_GT(r->host.exit_calls, 0) << text;  // vCPU threads called from their IO exits
  EXPECT_GT(r->host.calls, r->host.exit_calls) << text;  // and the ksmd thread called too
  EXPECT_EQ(r->host.lost, 0) << text;
  EXPECT_TRUE(r->success) << r->failure_reason << "\n" << text;
  EXPECT_TRUE(absl::StrContains(text, "hostipi: VM hp-smp")) << text;
  int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string log(1 << 22, '\0');
  ssize_t n = read(fd, log.data(), log.size());
  close(fd);
  log.resize(n > 0 ? n : 0);
  EXPECT_TRUE(absl::StrContains(log, "\"type\":\"hostipi_start\"")) << log;
  EXPECT_TRUE(absl::StrContains(log, "\"plane\":\"host\"")) << log;  // ipi_latency
  EXPECT_TRUE(absl::StrContains(log, "\"type\":\"hostipi_end\"")) << log;
}

// A lost host-plane IPI (forced: the next host_ipi set to vCPU 0 is dropped,
// no re-send) fails the run with the LOST report in the output.
TEST(HostPlaneSmpTest, LostHostIpiFailsTheRun) {
  KVMBED_SKIP_WITHOUT_KVM();
  std::string text;
  runner::SmpRunOptions o;
  o.duration = absl::Seconds(2);
  o.out = [&](const std::string& t) { text += t; };
  o.hostipi.enabled = true;
  o.hostipi.kernel_model = *hostipi::KernelModel::Preset("v5.4");
  o.hostipi.ksmd_threads = 1;
  o.hostipi.vcpu_exit_calls = false;
  o.hostipi.resched_fraction = 0;
  o.hostipi.stall_threshold = absl::Milliseconds(200);
  o.hostipi.drop_host_ipi_vcpu = 0;
  GuestSpec g;
  g.workload = GuestWorkload::kSpin;
  g.csd_timeout = absl::Seconds(5);
  g.soft_lockup_threshold = absl::Seconds(20);
  g.stat_interval = absl::ZeroDuration();
  auto r = runner::RunSmpWorkload(PinnedTestVm("hp-smp", 2), g, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->success) << text;
  EXPECT_EQ(r->exit_code(), 1);
  EXPECT_GE(r->host.lost, 1) << text;
  EXPECT_TRUE(absl::StrContains(r->failure_reason, "LOST host-plane")) << r->failure_reason;
  EXPECT_TRUE(absl::StrContains(text, "verdict: LOST")) << text;
  EXPECT_TRUE(absl::StrContains(text, "End of test: FAILURE")) << text;
}

TEST(HostPlaneSmpTest, LiveCountersFromTheRunner) {
  KVMBED_SKIP_WITHOUT_KVM();
  runner::SmpRunOptions o;
  o.duration = absl::Seconds(2);
  o.out = [](const std::string&) {};
  o.hostipi.enabled = true;
  o.hostipi.vcpu_exit_calls = false;
  o.hostipi.stall_threshold = absl::Seconds(2);
  GuestSpec g;
  g.workload = GuestWorkload::kSpin;
  g.csd_timeout = absl::Seconds(5);
  g.soft_lockup_threshold = absl::Seconds(20);
  g.stat_interval = absl::ZeroDuration();
  auto runner = runner::SmpRunner::Create(PinnedTestVm("hp-smp", 2), g, o);
  ASSERT_TRUE(runner.ok()) << runner.status();
  EXPECT_EQ((*runner)->HostPlaneStats().doorbells_sent, 0);  // not started yet
  EXPECT_FALSE((*runner)->Live().done);
  std::atomic<int64_t> seen{0};
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      seen.store(std::max<int64_t>(seen.load(), (*runner)->HostPlaneStats().doorbells_sent));
      absl::SleepFor(absl::Milliseconds(50));
    }
  });
  auto r = (*runner)->Run();
  done.store(true);
  watcher.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*runner)->Live().done);
  EXPECT_GT(seen.load(), 0);
  EXPECT_GE(r->host.stats.doorbells_sent, seen.load());
}

// emulated-power ordering on the vCPU threads (ThreadStoreBuffers): the
// buggy model (no barrier after the clear, peek demux: the seed's scenario
// 2) loses a host IPI; the fixed model under the very same store buffer
// does not. Runs of a few seconds with seeds 1, 2, ... until the first
// LOST, within a budget.
runner::SmpRunOptions EmulatedPlane(const std::string& model, uint64_t seed, std::string* text) {
  runner::SmpRunOptions o;
  o.duration = absl::Seconds(6);
  o.out = [text](const std::string& t) { *text += t; };
  o.hostipi.enabled = true;
  absl::StatusOr<hostipi::KernelModel> km = hostipi::KernelModel::Parse(model);
  if (km.ok()) o.hostipi.kernel_model = *km;
  EXPECT_TRUE(km.ok()) << km.status();
  o.hostipi.ordering = hostipi::OrderingMode::kEmulatedPower;
  o.hostipi.store_hold = absl::Milliseconds(200);
  o.hostipi.ksmd_threads = 1;
  o.hostipi.resched_fraction = 1;
  o.hostipi.exit_call_probability = 0.5;
  o.hostipi.stall_threshold = absl::Seconds(1);
  o.hostipi.seed = seed;
  return o;
}

TEST(HostPlaneSmpTest, EmulatedPowerOrderingLosesAnIpiWithTheBuggyModel) {
  KVMBED_SKIP_WITHOUT_KVM();
  const absl::Time deadline = absl::Now() + absl::Seconds(45);
  int runs = 0;
  int64_t lost = 0;
  std::string text;
  runner::SmpRunResult last;
  for (uint64_t seed = 1; lost == 0 && absl::Now() < deadline; ++seed) {
    text.clear();
    auto r = runner::RunSmpWorkload(PinnedTestVm("hp-emu", 4), IoGuest(),
                            EmulatedPlane("v5.3,demux=peek", seed, &text));
    ASSERT_TRUE(r.ok()) << r.status();
    ++runs;
    lost = r->host.lost;
    last = *r;
  }
  std::printf("buggy v5.3,demux=peek: %d run(s) of <= 6 s, LOST stalls in the last: %lld\n", runs,
              static_cast<long long>(lost));
  ASSERT_GE(lost, 1) << "no lost host IPI in " << runs << " runs\n" << text;
  EXPECT_EQ(last.exit_code(), 1);
  EXPECT_EQ(last.host.ordering, hostipi::OrderingMode::kEmulatedPower);
  EXPECT_GT(last.host.store_buffers.buffered, 0);
  EXPECT_GT(last.host.store_buffers.drained_by_drainer, 0);  // vCPUs in the guest drain too
  // The report shows the reason: the doorbell was taken with host_ipi 0 while
  // the message was set, and what the store buffers held.
  EXPECT_TRUE(absl::StrContains(last.host.first_lost_report, "verdict: LOST")) << text;
  EXPECT_TRUE(absl::StrContains(last.host.first_lost_report, "host_ipi==0")) << text;
  EXPECT_TRUE(absl::StrContains(last.host.first_lost_report, "stores still buffered")) << text;
}

TEST(HostPlaneSmpTest, EmulatedPowerOrderingStaysCleanWithTheFixedModel) {
  KVMBED_SKIP_WITHOUT_KVM();
  std::string text;
  runner::SmpRunOptions o = EmulatedPlane("v5.4,demux=peek", 1, &text);
  o.duration = absl::Seconds(12);
  auto r = runner::RunSmpWorkload(PinnedTestVm("hp-emu", 4), IoGuest(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  std::printf("fixed v5.4,demux=peek: %lld doorbells, %lld ignored, %lld stores buffered\n",
              static_cast<long long>(r->host.stats.doorbells_sent),
              static_cast<long long>(r->host.stats.doorbells_ignored),
              static_cast<long long>(r->host.store_buffers.buffered));
  EXPECT_EQ(r->host.lost, 0) << r->host.first_lost_report;
  EXPECT_GT(r->host.stats.doorbells_sent, 50) << text;
  EXPECT_GT(r->host.store_buffers.buffered, 0);
  EXPECT_EQ(r->exit_code(), 0) << r->failure_reason << "\n" << text;
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed

// lost-host-ipi --plane=kvm (scenarios/lost_host_ipi_kvm.h) on this VMM.
namespace kvmbed {
namespace scenarios {
namespace {

// Scenario 2 on the real vCPU thread. The loss needs the sender's set to land
// in the few ns between the vCPU thread's clear and its drain; here that took
// 4-21 s (one run in four: not within 30 s), so within this bound the buggy
// model may not lose an IPI. When it does, the report must carry the
// evidence; the fixed model must stay clean either way. (Detection itself is
// proved on a forced loss above.)
TEST(HostPlaneReproTest, Scenario2OnAVcpuThread) {
  KVMBED_SKIP_WITHOUT_KVM();
  KvmReproOptions o;
  o.buggy_budget = absl::Seconds(15);
  o.fixed_budget = absl::Seconds(2);
  auto r = ReproduceLostHostIpiOnKvm(o);
  ASSERT_TRUE(r.ok()) << r.status();
  std::printf("%s", RenderReproduction(*r).c_str());
  ASSERT_TRUE(r->buggy.ran);
  ASSERT_TRUE(r->fixed.ran);
  EXPECT_GT(r->buggy.operations, 100);
  EXPECT_GT(r->fixed.operations, 100);
  EXPECT_EQ(r->fixed.hangs, 0) << r->fixed.report;
  if (r->buggy.hung) {
    const std::string& rep = r->buggy.report;
    EXPECT_TRUE(absl::StrContains(rep, "verdict: LOST")) << rep;
    EXPECT_TRUE(absl::StrContains(rep, "host_ipi==0")) << rep;
    EXPECT_TRUE(absl::StrContains(rep, "IPI IGNORED")) << rep;
    EXPECT_TRUE(absl::StrContains(rep, "vCPU 0 of VM hostipi-kvm")) << rep;
    EXPECT_TRUE(r->Pass());
  } else {
    std::printf("scenario 2 did not reproduce on the vCPU thread within %s (%lld doorbells)\n",
                absl::FormatDuration(o.buggy_budget).c_str(),
                static_cast<long long>(r->buggy.operations));
  }
}

// The same with emulated-power store buffers on the vCPU and sender threads:
// the clear can stay invisible for up to a hold, so the buggy model must hang
// within the budget (within about a hundred doorbells on kvm_pvm) and the
// fixed one must not.
TEST(HostPlaneReproTest, Scenario2OnAVcpuThreadWithEmulatedPowerOrdering) {
  KVMBED_SKIP_WITHOUT_KVM();
  KvmReproOptions o;
  o.ordering = hostipi::OrderingMode::kEmulatedPower;
  o.buggy_budget = absl::Seconds(40);
  o.fixed_budget = absl::Seconds(3);
  auto r = ReproduceLostHostIpiOnKvm(o);
  ASSERT_TRUE(r.ok()) << r.status();
  std::printf("%s", RenderReproduction(*r).c_str());
  EXPECT_TRUE(absl::StrContains(r->bug, "emulated POWER store buffer")) << r->bug;
  ASSERT_TRUE(r->fixed.ran);
  EXPECT_GT(r->fixed.operations, 20);
  EXPECT_EQ(r->fixed.hangs, 0) << r->fixed.report;
  if (!r->buggy.hung && std::getenv("KVMBED_NESTED") != nullptr) {
    // In the nested L1 under TCG the vCPU thread's exit path takes
    // milliseconds, and the sender (aligned on the target's exits) sets
    // host_ipi before the target's clear is even buffered: 768 and 2084
    // doorbells over 40 s lost none there, while on kvm_pvm the loss comes
    // within about a hundred doorbells. Only the fixed model was checked.
    GTEST_SKIP() << "the buggy model lost no IPI in " << r->buggy.operations
                 << " doorbells in the nested L1 under QEMU TCG (its exit path is too slow "
                    "for the sender to land in the reordering window); the fixed model was "
                    "checked";
  }
  ASSERT_TRUE(r->buggy.hung) << "no lost IPI in " << r->buggy.operations << " doorbells";
  EXPECT_TRUE(absl::StrContains(r->buggy.report, "verdict: LOST")) << r->buggy.report;
  EXPECT_TRUE(absl::StrContains(r->buggy.report, "stores still buffered")) << r->buggy.report;
  EXPECT_TRUE(r->Pass());
}

}  // namespace
}  // namespace scenarios
}  // namespace kvmbed
