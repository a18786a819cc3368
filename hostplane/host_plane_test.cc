#include "hostplane/host_plane.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "vmm/test_vm.h"
#include "guest/abi.h"
#include "guest/image.h"
#include "base/reproduction.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace hostplane {
namespace {

VmSpec SmallVm(int vcpus) {
  VmSpec vm;
  vm.name = "hp";
  vm.vcpus = vcpus;
  vm.topology.cores = vcpus;
  vm.memory_bytes = 64ull << 20;
  for (int i = 0; i < vcpus; ++i) {
    vm.vcpu_affinity.push_back({i % 2});
    vm.vcpu_pinned.push_back(true);
  }
  return vm;
}

// Collects every report text.
struct Sink {
  absl::Mutex mu;
  std::string text ABSL_GUARDED_BY(mu);
  std::function<void(const std::string&)> Fn() {
    return [this](const std::string& t) {
      absl::MutexLock l(&mu);
      text += t;
    };
  }
  std::string Get() {
    absl::MutexLock l(&mu);
    return text;
  }
};

// Runs a VM with `plane` as its hooks until `done` or `budget`.
HostPlaneResult RunWith(HostPlane& plane, const VmSpec& vm, absl::Duration budget,
                        const std::function<bool()>& done = nullptr,
                        const std::function<void()>& after_start = nullptr) {
  vmm::MachineOptions mo;
  mo.guest_elf = guest::Image();
  mo.workload = abi::kWorkloadSpin;
  mo.log_console = false;
  mo.hooks = &plane;
  auto m = vmm::Machine::Create(vm, mo);
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return {};
  plane.Attach(m->get());
  EXPECT_TRUE((*m)->Start().ok());
  absl::Status s = (*m)->WaitOnline(absl::Seconds(20));
  EXPECT_TRUE(s.ok()) << s;
  s = plane.Start();
  EXPECT_TRUE(s.ok()) << s;
  if (after_start) after_start();
  const absl::Time end = absl::Now() + budget;
  while (s.ok() && absl::Now() < end && !(done && done())) {
    s = (*m)->Run(absl::Milliseconds(20));
  }
  EXPECT_TRUE(s.ok()) << s;
  plane.StopSenders();
  vmm::VmSummary sum = (*m)->Shutdown();
  plane.Join();
  EXPECT_TRUE(sum.error.ok()) << sum.error;
  return plane.Result();
}

TEST(HostPlaneTest, VcpuThreadsTakeDoorbellsThroughKicksAndTheFixedModelIsClean) {
  KVMBED_SKIP_WITHOUT_KVM();
  HostPlaneOptions o;
  o.vm_name = "hp";
  o.num_vcpus = 2;
  o.model = *hostipi::KernelModel::Parse("v5.4");
  o.ksmd_threads = 2;
  o.ksmd_pause = absl::Microseconds(50);
  o.resched_fraction = 0.5;
  o.resched_burst = 2;
  Sink sink;
  o.out = sink.Fn();
  auto plane = HostPlane::Create(o);
  ASSERT_TRUE(plane.ok()) << plane.status();
  HostPlaneResult r = RunWith(**plane, SmallVm(2), absl::Seconds(2));
  std::printf("%s", (*plane)->FormatStatsLine().c_str());
  EXPECT_TRUE(r.threshold_calibrated);
  EXPECT_GT(r.threshold, absl::ZeroDuration());
  EXPECT_GT(r.kick_p50_ns, 0);
  EXPECT_GT(r.stats.doorbells_sent, 10);
  EXPECT_GT(r.stats.doorbells_taken_in_guest, 10);  // real kicks out of KVM_RUN
  EXPECT_GT(r.stats.messages_handled[hostipi::kCallFunction], 0);
  EXPECT_GT(r.stats.messages_handled[hostipi::kReschedule], 0);
  EXPECT_GT(r.stats.csds_run, 0);
  EXPECT_GT(r.calls, 0);
  EXPECT_EQ(r.latency.count, r.calls);
  EXPECT_EQ(r.lost, 0) << sink.Get();
}

TEST(HostPlaneTest, ForcedLossIsReportedLostWithVmAndRegistersAndResendUnsticksIt) {
  KVMBED_SKIP_WITHOUT_KVM();
  HostPlaneOptions o;
  o.vm_name = "victim";
  o.num_vcpus = 1;
  o.model = *hostipi::KernelModel::Parse("v5.4");
  o.ksmd_threads = 1;
  o.ksmd_pause = absl::Microseconds(100);
  o.resched_fraction = 0;  // only CALL_FUNCTION: the dropped set is a call's
  o.stall_threshold = absl::Milliseconds(150);
  o.resend_on_stall = true;
  Sink sink;
  o.out = sink.Fn();
  auto events_path = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
                     "/host_plane_events.jsonl";
  auto events = EventLog::Open(events_path);
  ASSERT_TRUE(events.ok());
  o.events = events->get();
  auto plane = HostPlane::Create(o);
  ASSERT_TRUE(plane.ok());
  HostPlane& p = **plane;
  int64_t calls_at_loss = -1;
  HostPlaneResult r = RunWith(
      p, SmallVm(1), absl::Seconds(10),
      [&]() {
        HostPlaneResult now = p.Result();
        if (now.stats.stalls_lost > 0 && calls_at_loss < 0) calls_at_loss = now.calls;
        return calls_at_loss >= 0 && now.calls > calls_at_loss + 10;
      },
      [&]() { p.DropNextHostIpiSetForTest(0); });
  const std::string text = sink.Get();
  EXPECT_GE(r.stats.doorbells_ignored, 1);
  ASSERT_GE(r.lost, 1) << text;
  EXPECT_FALSE(r.first_lost_report.empty());
  EXPECT_TRUE(absl::StrContains(r.first_lost_report, "verdict: LOST")) << r.first_lost_report;
  EXPECT_TRUE(absl::StrContains(r.first_lost_report, "VM victim")) << r.first_lost_report;
  EXPECT_TRUE(absl::StrContains(r.first_lost_report, "vCPU 0 of VM victim"));
  EXPECT_TRUE(absl::StrContains(r.first_lost_report, "RIP")) << r.first_lost_report;
  EXPECT_TRUE(absl::StrContains(text, "Re-sending CSD lock")) << text;
  EXPECT_TRUE(absl::StrContains(text, "got unstuck")) << text;
  // The soak went on after the re-send.
  EXPECT_GT(r.calls, calls_at_loss) << text;
  // The event log has the stall with the VM and the vCPU id.
  int fd = open(events_path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string log(1 << 20, '\0');
  ssize_t n = read(fd, log.data(), log.size());
  close(fd);
  log.resize(n > 0 ? n : 0);
  EXPECT_TRUE(absl::StrContains(log, "\"type\":\"stall\"")) << log;
  EXPECT_TRUE(absl::StrContains(log, "\"verdict\":\"lost\"")) << log;
  EXPECT_TRUE(absl::StrContains(log, "\"vm\":\"victim\"")) << log;
  EXPECT_TRUE(absl::StrContains(log, "\"type\":\"stall_cleared\"")) << log;
}

TEST(HostPlaneTest, SpecValidation) {
  HostIpiSpec s;
  s.enabled = true;
  EXPECT_TRUE(ValidateHostIpiSpec(s).ok());
  s.ordering = hostipi::OrderingMode::kEmulatedPower;
  EXPECT_TRUE(ValidateHostIpiSpec(s).ok());
  s = HostIpiSpec();
  s.ordering = hostipi::OrderingMode::kEmulatedPower;
  s.store_hold = absl::Seconds(5);
  absl::Status st = ValidateHostIpiSpec(s);
  EXPECT_TRUE(absl::StrContains(st.message(), "hostipi.store_hold")) << st;
  s = HostIpiSpec();
  s.ksmd_threads = 0;
  s.vcpu_exit_calls = false;
  EXPECT_FALSE(ValidateHostIpiSpec(s).ok());
  VmSpec big = SmallVm(2);
  big.vcpus = 64;
  s = HostIpiSpec();
  EXPECT_FALSE(HostPlaneOptionsFromSpec(s, big).ok());
}

// The spec's kernel model and ordering reach the plane's options as given.
TEST(HostPlaneTest, OptionsCarryTheTypedModelAndOrdering) {
  HostIpiSpec s;
  EXPECT_EQ(s.kernel_model.ToString(), "v5.4");  // the documented default
  absl::StatusOr<hostipi::KernelModel> km = hostipi::KernelModel::Parse("v5.3,demux=peek");
  ASSERT_TRUE(km.ok()) << km.status();
  s.kernel_model = *km;
  s.ordering = hostipi::OrderingMode::kEmulatedPower;
  absl::StatusOr<HostPlaneOptions> o = HostPlaneOptionsFromSpec(s, SmallVm(2));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->model.ToString(), "v5.3,demux=peek");
  EXPECT_EQ(o->ordering, hostipi::OrderingMode::kEmulatedPower);
}

}  // namespace
}  // namespace hostplane
}  // namespace kvmbed
