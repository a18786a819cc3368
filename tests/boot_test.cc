// KVM integration: VMs boot, every vCPU comes online in long mode with the
// x2APIC enabled, heartbeats flow without exits, threads run pinned as the
// VmSpec says, and shutdown leaves no thread or fd behind.
#include <sched.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "runner/run_spec.h"
#include "gtest/gtest.h"
#include "vmm/test_vm.h"
#include "guest/abi.h"
#include "guest/image.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace vmm {
namespace {

// Options that boot the embedded guest (the VMM core embeds none).
MachineOptions GuestOptions() {
  MachineOptions o;
  o.guest_elf = guest::Image();
  return o;
}

class BootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KVMBED_SKIP_WITHOUT_KVM();
  }
};

void ExpectBootedAndPinned(const VmSpec& spec, const VmSummary& s) {
  ASSERT_TRUE(s.error.ok()) << s.error;
  EXPECT_TRUE(s.all_online);
  ASSERT_EQ(s.vcpu.size(), static_cast<size_t>(spec.vcpus));
  for (const VcpuSummary& v : s.vcpu) {
    EXPECT_EQ(v.state, "online") << "vCPU " << v.id;
    EXPECT_EQ(v.apic_id, v.expected_apic_id) << "x2APIC id of vCPU " << v.id;
    EXPECT_EQ(v.affinity_in_force, spec.vcpu_affinity[v.id]) << "vCPU " << v.id;
    EXPECT_FALSE(v.ran_on.empty()) << "vCPU " << v.id;
    for (int cpu : v.ran_on) {
      EXPECT_TRUE(std::set<int>(spec.vcpu_affinity[v.id].begin(),
                                spec.vcpu_affinity[v.id].end())
                      .count(cpu))
          << "vCPU " << v.id << " ran on host CPU " << cpu << " outside its set";
    }
  }
}

TEST_F(BootTest, FourVcpusComeOnlineAndHeartbeat) {
  VmSpec spec = PinnedTestVm("boot4", 4);
  int threads_before = CountDirEntries("/proc/self/task");
  int fds_before = CountDirEntries("/proc/self/fd");
  MachineOptions opts = GuestOptions();
  opts.heartbeat_period = absl::Milliseconds(5);
  absl::StatusOr<VmSummary> s = RunVm(spec, absl::Milliseconds(300), opts);
  ASSERT_TRUE(s.ok()) << s.status();
  std::printf("%s", FormatSummary(*s).c_str());
  ExpectBootedAndPinned(spec, *s);
  for (const VcpuSummary& v : s->vcpu) {
    // 300 ms at a 5 ms period: a few dozen; require some, never a rate.
    EXPECT_GT(v.heartbeats, 0u) << "vCPU " << v.id << " never heartbeat";
    // Heartbeats are shared-memory counters: no exit to userspace per beat.
    EXPECT_EQ(v.exits.count("KVM_EXIT_HLT"), 0u);
  }
  ASSERT_FALSE(s->console.empty());
  EXPECT_NE(s->console[0].find(absl::StrCat("kvmbed guest: abi v", abi::kAbiVersion,
                                            ", 4 vCPUs")),
            std::string::npos)
      << s->console[0];
  EXPECT_EQ(CountDirEntries("/proc/self/task"), threads_before) << "thread leak";
  EXPECT_EQ(CountDirEntries("/proc/self/fd"), fds_before) << "fd leak";
}

TEST_F(BootTest, FiftySixVcpusComeOnline) {
  // The seed's guest A shape: 56 vCPUs, vCPUs 2k and 2k+1 share a CPU set
  // (folded onto this host's CPUs).
  std::vector<int> cpus = TestHostCpus();
  VmSpec spec;
  spec.name = "guestA-folded";
  spec.vcpus = 56;
  spec.topology = Topology{1, 28, 2};
  for (int i = 0; i < 56; ++i) {
    int k = i / 2;
    spec.vcpu_affinity.push_back({cpus[k % cpus.size()]});
    spec.vcpu_pinned.push_back(true);
  }
  int threads_before = CountDirEntries("/proc/self/task");
  absl::StatusOr<VmSummary> s = RunVm(spec, absl::Milliseconds(200), GuestOptions());
  ASSERT_TRUE(s.ok()) << s.status();
  std::printf("%s", FormatSummary(*s).c_str());
  ExpectBootedAndPinned(spec, *s);
  EXPECT_EQ(CountDirEntries("/proc/self/task"), threads_before) << "thread leak";
}

TEST_F(BootTest, TopologyWithGapsGivesHardwareApicIds) {
  // 2 sockets x 3 cores x 2 threads: 1 SMT bit, 2 core bits, so socket 1
  // starts at APIC id 8 and ids 6, 7 are unused.
  VmSpec spec = PinnedTestVm("topo", 12);
  spec.topology = Topology{2, 3, 2};
  absl::StatusOr<VmSummary> s = RunVm(spec, absl::Milliseconds(50), GuestOptions());
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectBootedAndPinned(spec, *s);
  const uint32_t want[12] = {0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(s->vcpu[i].apic_id, want[i]) << "vCPU " << i;
}

TEST_F(BootTest, MultiCpuAffinityIsReadBack) {
  std::vector<int> cpus = TestHostCpus();
  VmSpec spec = PinnedTestVm("multi", 2);
  for (auto& a : spec.vcpu_affinity) a = cpus;  // unpinned: the whole host set
  absl::StatusOr<VmSummary> s = RunVm(spec, absl::Milliseconds(100), GuestOptions());
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectBootedAndPinned(spec, *s);
}

TEST_F(BootTest, SpinWorkloadHeartbeatsWithoutExits) {
  VmSpec spec = PinnedTestVm("spin", 2);
  MachineOptions opts = GuestOptions();
  opts.workload = abi::kWorkloadSpin;
  absl::StatusOr<VmSummary> s = RunVm(spec, absl::Milliseconds(200), opts);
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectBootedAndPinned(spec, *s);
  // Ring 0 is emulated on kvm_pvm (~0.1-0.4 M loop iterations/s): require
  // progress, not a rate.
  for (const VcpuSummary& v : s->vcpu) {
    EXPECT_GT(v.heartbeats, 100u);
    EXPECT_EQ(v.exits.size(), v.id == 0 ? 2u : 1u) << "only the console IO and the stop kick";
  }
}

TEST_F(BootTest, Ring3SpinWorkloadRuns) {
  // On kvm_pvm hosts ring-3 guest code runs natively (ring 0 is emulated);
  // the rates are printed for the record, not asserted.
  VmSpec spec = PinnedTestVm("userspin", 2);
  MachineOptions opts = GuestOptions();
  opts.workload = abi::kWorkloadUserSpin;
  absl::StatusOr<VmSummary> s = RunVm(spec, absl::Milliseconds(200), opts);
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectBootedAndPinned(spec, *s);
  for (const VcpuSummary& v : s->vcpu) {
    EXPECT_GT(v.heartbeats, 1000u);
    std::printf("ring-3 spin vCPU %d: %llu heartbeats in %s\n", v.id,
                static_cast<unsigned long long>(v.heartbeats),
                absl::FormatDuration(s->run_time).c_str());
  }
}

TEST_F(BootTest, PerVcpuWorkloads) {
  VmSpec spec = PinnedTestVm("mixed", 3);
  MachineOptions opts = GuestOptions();
  opts.workload = abi::kWorkloadIdle;
  opts.heartbeat_period = absl::Milliseconds(50);
  opts.vcpu_workload = {abi::kWorkloadUserSpin, abi::kWorkloadDefault};
  absl::StatusOr<VmSummary> s = RunVm(spec, absl::Milliseconds(200), opts);
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectBootedAndPinned(spec, *s);
  // vCPU 0 spins in ring 3 (fast); 1 and 2 idle on a 50 ms timer (a few beats).
  EXPECT_GT(s->vcpu[0].heartbeats, 1000u);
  EXPECT_LT(s->vcpu[1].heartbeats, 100u);
  EXPECT_LT(s->vcpu[2].heartbeats, 100u);
}

TEST_F(BootTest, DescribeVcpuSymbolizesWhereEachVcpuIs) {
  // vCPU 0 spins in ring 3, vCPU 1 idles in ring 0 (halted between beats).
  VmSpec spec = PinnedTestVm("describe", 2);
  MachineOptions opts = GuestOptions();
  opts.vcpu_workload = {abi::kWorkloadUserSpin, abi::kWorkloadIdle};
  opts.log_console = false;
  absl::StatusOr<std::unique_ptr<Machine>> m = Machine::Create(spec, opts);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE((*m)->Start().ok());
  ASSERT_TRUE((*m)->WaitOnline(absl::Seconds(10)).ok());
  ASSERT_TRUE((*m)->Run(absl::Milliseconds(50)).ok());
  absl::StatusOr<std::string> d0 = (*m)->DescribeVcpu(0, absl::Seconds(10));
  ASSERT_TRUE(d0.ok()) << d0.status();
  EXPECT_NE(d0->find(" UserSpinBody+0x"), std::string::npos) << *d0;
  EXPECT_NE(d0->find("CS 0033"), std::string::npos) << *d0;
  absl::StatusOr<std::string> d1 = (*m)->DescribeVcpu(1, absl::Seconds(10));
  ASSERT_TRUE(d1.ok()) << d1.status();
  EXPECT_NE(d1->find("CS 0008"), std::string::npos) << *d1;
  // Halted in the idle loop or inside the timer interrupt path.
  EXPECT_TRUE(d1->find(" IdleWorkload+0x") != std::string::npos ||
              d1->find("irq_stub_32") != std::string::npos ||
              d1->find("guest_timer_irq") != std::string::npos)
      << *d1;
  std::printf("vCPU 0:\n%s\nvCPU 1:\n%s\n", d0->c_str(), d1->c_str());
  EXPECT_FALSE((*m)->DescribeVcpu(2, absl::Seconds(1)).ok());
  VmSummary s = (*m)->Shutdown();
  EXPECT_TRUE(s.error.ok()) << s.error;
}

TEST_F(BootTest, RequestStopEndsRunEarly) {
  VmSpec spec = PinnedTestVm("stop", 2);
  absl::StatusOr<std::unique_ptr<Machine>> m = Machine::Create(spec, GuestOptions());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE((*m)->Start().ok());
  ASSERT_TRUE((*m)->WaitOnline(absl::Seconds(10)).ok());
  (*m)->RequestStop();
  // Would run an hour if the stop request were ignored (the test would time out).
  EXPECT_TRUE((*m)->Run(absl::Hours(1)).ok());
  VmSummary s = (*m)->Shutdown();
  EXPECT_TRUE(s.error.ok()) << s.error;
  EXPECT_TRUE(s.all_online);
}

TEST_F(BootTest, LargeSparseMemoryBoots) {
  // 6 GiB of MAP_NORESERVE RAM on either side of the 3..4 GiB hole; only
  // touched pages cost host memory.
  VmSpec spec = PinnedTestVm("bigmem", 2);
  spec.memory_bytes = 6ull << 30;
  MachineOptions opts = GuestOptions();
  opts.hugepages = true;
  opts.mergeable = true;
  absl::StatusOr<VmSummary> s = RunVm(spec, absl::Milliseconds(100), opts);
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectBootedAndPinned(spec, *s);
}

TEST_F(BootTest, BadSpecsAreRejectedWithTheField) {
  VmSpec spec = PinnedTestVm("bad", 2);
  spec.vcpu_affinity.pop_back();
  auto m = Machine::Create(spec, GuestOptions());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("VmSpec.vcpu_affinity"), std::string::npos) << m.status();

  spec = PinnedTestVm("bad", 2);
  spec.memory_bytes = (64ull << 20) + 4096;
  m = Machine::Create(spec, GuestOptions());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("VmSpec.memory_bytes"), std::string::npos) << m.status();

  spec = PinnedTestVm("bad", 4);
  spec.topology = Topology{1, 3, 1};
  m = Machine::Create(spec, GuestOptions());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("VmSpec.topology"), std::string::npos) << m.status();

  spec = PinnedTestVm("bad", 2);
  spec.vcpu_affinity[1] = {0, 4000};
  m = Machine::Create(spec, GuestOptions());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("VmSpec.vcpu_affinity[1] names host CPU 4000"),
            std::string::npos) << m.status();

  // The VMM embeds no guest: a caller that passes none is told which field.
  spec = PinnedTestVm("bad", 2);
  m = Machine::Create(spec, MachineOptions());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("MachineOptions.guest_elf is empty"), std::string::npos)
      << m.status();

  spec = PinnedTestVm("bad", 2);
  spec.vcpus = abi::kMaxVcpus + 1;
  m = Machine::Create(spec, GuestOptions());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("VmSpec.vcpus"), std::string::npos) << m.status();
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
