// Snapshots are taken in the target vCPU's own thread and describe it.
#include "vmm/vcpu_snapshot.h"

#include <sched.h>

#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "vmm/test_vm.h"
#include "guest/abi.h"
#include "guest/image.h"
#include "vmm/elf.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace vmm {
namespace {

TEST(VcpuSnapshotTest, SpinningAndIdleVcpusAreDescribed) {
  KVMBED_SKIP_WITHOUT_KVM();
  for (abi::Workload w : {abi::kWorkloadSpin, abi::kWorkloadIdle}) {
    SnapshotHooks hooks(2, nullptr);
    MachineOptions mo;
    mo.guest_elf = guest::Image();
    mo.workload = w;
    mo.hooks = &hooks;
    mo.log_console = false;
    auto m = Machine::Create(PinnedTestVm("snap", 2), mo);
    ASSERT_TRUE(m.ok()) << m.status();
    hooks.Attach(m->get());
    ASSERT_TRUE((*m)->Start().ok());
    ASSERT_TRUE((*m)->WaitOnline(absl::Seconds(20)).ok());
    for (int i = 0; i < 2; ++i) {
      auto s = hooks.Take(i, -1, absl::Seconds(2));
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ(s->vcpu, i);
      std::string rip = (*m)->elf().Symbolize(s->regs.rip);
      if (w == abi::kWorkloadSpin) {
        EXPECT_TRUE(absl::StrContains(rip, "SpinWorkload")) << rip;
        EXPECT_FALSE(s->Halted());
      } else {
        EXPECT_TRUE(absl::StrContains(rip, "IdleWorkload")) << rip;
      }
      EXPECT_EQ(s->status.state, abi::kStateOnline);
      EXPECT_NE(s->sregs.cr3, 0u);
      std::string text = FormatSnapshotRegisters(*s, (*m)->elf(), "  ");
      EXPECT_TRUE(absl::StrContains(text, "RIP: ")) << text;
    }
    EXPECT_FALSE(hooks.Take(7, -1, absl::Seconds(1)).ok()) << "no such vCPU";
    (*m)->Shutdown();
  }
}

TEST(VcpuSnapshotTest, NoMachineNoSnapshot) {
  SnapshotHooks hooks(1, nullptr);
  auto s = hooks.Take(0, -1, absl::Milliseconds(10));
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
