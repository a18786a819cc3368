// The guest-plane reproductions end to end on /dev/kvm: the buggy model must
// hang with the seed's evidence and the fixed model must stay clean. Each
// test fails if the hang is no longer detected (buggy.hung, the verdict and
// its evidence are asserted), or if the fixed model hangs.
#include "scenarios/guest_scenario.h"

#include <string>

#include "absl/time/time.h"
#include "configs/profile.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vmm/test_vm.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace scenarios {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ScenarioProfile> Load(const std::string& path) {
  ProfileOptions o;  // this process's CPUs
  return LoadScenarioProfile(path, o);
}

TEST(GuestReproTest, WrongProfileIsAClearError) {
  absl::StatusOr<ScenarioProfile> run = Load("configs/reproduce-offline-csd-flush.yaml");
  ASSERT_TRUE(run.ok()) << run.status();
  absl::StatusOr<Reproduction> r = ReproducePvSpinlockKick(*run);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("reproduce-offline-csd-flush.yaml"));
  EXPECT_THAT(r.status().message(), HasSubstr("reproduce-pvspinlock-kick.yaml"));
  run->reproduce.present = false;
  r = ReproduceOfflineCsdFlush(*run);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("no `reproduce:` section"));
}

TEST(GuestReproTest, PvSpinlockKickFirstDeadlocksKickAllDoesNot) {
  KVMBED_SKIP_WITHOUT_KVM();
  absl::StatusOr<ScenarioProfile> run = Load("configs/reproduce-pvspinlock-kick.yaml");
  ASSERT_TRUE(run.ok()) << run.status();
  run->reproduce.buggy_budget = absl::Seconds(20);
  // The fixed phase is bounded by work, not time: on a slow KVM (nested,
  // under QEMU TCG, on a loaded host) a time budget measures the host.
  run->reproduce.fixed_operations = 1001;
  run->reproduce.fixed_budget = absl::Seconds(120);
  absl::StatusOr<Reproduction> r = ReproducePvSpinlockKick(*run);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string text = RenderReproduction(*r);
  EXPECT_EQ(r->buggy.kernel_model, "kick=first");
  ASSERT_TRUE(r->buggy.hung) << text;
  // The seed's evidence: who waits, who got the kick, why the other never woke.
  EXPECT_THAT(r->buggy.report, HasSubstr("verdict: DEADLOCK (seed 76eaca031f0a)")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("kicked vCPU#1 (kick=first")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("vCPU#2 waits for the lock")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("kicks sent to it since it began to poll: 0")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("soft lockup - vCPU#1 stuck")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("pv_try_to_wake_up+")) << text;
  EXPECT_EQ(r->fixed.kernel_model, "kick=all");
  EXPECT_TRUE(r->fixed.ran);
  EXPECT_EQ(r->fixed.hangs, 0) << text;
  EXPECT_GT(r->fixed.operations, 1000) << text;
  EXPECT_TRUE(r->Pass()) << text;
  EXPECT_GT(r->PBound(), 0);
}

TEST(GuestReproTest, OfflineWithoutFlushLosesTheCsdWithFlushDoesNot) {
  KVMBED_SKIP_WITHOUT_KVM();
  absl::StatusOr<ScenarioProfile> run = Load("configs/reproduce-offline-csd-flush.yaml");
  ASSERT_TRUE(run.ok()) << run.status();
  run->reproduce.buggy_budget = absl::Seconds(20);
  // The fixed phase is bounded by work, not time: a slow KVM (nested, under
  // QEMU TCG, on a loaded host) managed 11 late csds in 3 s.
  run->reproduce.fixed_operations = 21;
  run->reproduce.fixed_budget = absl::Seconds(120);
  absl::StatusOr<Reproduction> r = ReproduceOfflineCsdFlush(*run);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string text = RenderReproduction(*r);
  EXPECT_EQ(r->buggy.kernel_model, "no flush");
  ASSERT_TRUE(r->buggy.hung) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("IPI on offline CPU 1\n")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("IPI callback hotplug_probe+")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("Detected non-responsive CSD lock (#1) on CPU#0")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("for CPU#01 hotplug_probe+")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("this csd is in it")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("flush at CPU_DYING: OFF")) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("verdict: LOST (seed 8d056c48e486)")) << text;
  EXPECT_EQ(r->fixed.kernel_model, "flush at CPU_DYING");
  EXPECT_TRUE(r->fixed.ran);
  EXPECT_EQ(r->fixed.hangs, 0) << text;
  EXPECT_GT(r->fixed.operations, 20) << text;  // late csds, each flushed at CPU_DYING
  EXPECT_TRUE(r->Pass()) << text;
}

}  // namespace
}  // namespace scenarios
}  // namespace kvmbed

namespace kvmbed {
namespace scenarios {
namespace {

// Two callers: the one that makes no last call must not stall stop_machine,
// and a csd queued behind the lost one is reported LOST too.
TEST(GuestReproTest, OfflineWithTwoCallers) {
  KVMBED_SKIP_WITHOUT_KVM();
  absl::StatusOr<ScenarioProfile> run = Load("configs/reproduce-offline-csd-flush.yaml");
  ASSERT_TRUE(run.ok()) << run.status();
  VmSpec& vm = run->vms[0];
  vm.vcpus = 3;
  vm.topology.cores = 3;
  vm.vcpu_affinity.push_back(vm.vcpu_affinity.back());
  vm.vcpu_pinned.push_back(false);
  run->reproduce.buggy_budget = absl::Seconds(20);
  run->reproduce.fixed_operations = 6;  // bounded by work, not time (see above)
  run->reproduce.fixed_budget = absl::Seconds(120);
  absl::StatusOr<Reproduction> r = ReproduceOfflineCsdFlush(*run);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string text = RenderReproduction(*r);
  ASSERT_TRUE(r->buggy.hung) << text;
  EXPECT_THAT(r->buggy.report, HasSubstr("verdict: LOST (seed 8d056c48e486)")) << text;
  EXPECT_EQ(r->fixed.hangs, 0) << text;
  EXPECT_GT(r->fixed.operations, 5) << text;
  EXPECT_TRUE(r->Pass()) << text;
}

}  // namespace
}  // namespace scenarios
}  // namespace kvmbed
