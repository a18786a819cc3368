// The IPI benchmark runs real round trips in a guest and summarizes them.
// Figures are printed, never asserted against a speed.
#include "runner/ipi_latency.h"

#include <sched.h>

#include <cstdio>
#include <vector>

#include "gtest/gtest.h"
#include "vmm/test_vm.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace runner {
namespace {

TEST(SummarizeTest, PercentilesAndMean) {
  std::vector<uint64_t> c;
  for (uint64_t i = 100; i >= 1; --i) c.push_back(i * 10);
  IpiLatency l = Summarize(c, 1000000, "x");
  EXPECT_EQ(l.samples, 100u);
  EXPECT_EQ(l.min, 10u);
  EXPECT_EQ(l.p50, 510u);
  EXPECT_EQ(l.p90, 910u);
  EXPECT_EQ(l.p99, 1000u);
  EXPECT_EQ(l.max, 1000u);
  EXPECT_EQ(l.mean, 505u);
  EXPECT_DOUBLE_EQ(l.Us(1000), 1.0);  // 1 GHz
  EXPECT_NE(FormatIpiLatency(l).find("ipi 505\n"), std::string::npos);
}

TEST(ThresholdsTest, ScaleWithLatencyAndHaveAFloor) {
  IpiLatency fast;
  fast.tsc_khz = 1000000;
  fast.p50 = 1000;  // 1 us
  fast.max = 2000;
  EXPECT_EQ(ThresholdsFrom(fast).csd_timeout, absl::Milliseconds(50));
  IpiLatency slow = fast;
  slow.p50 = 100000;   // 100 us -> 1000 x = 100 ms
  slow.max = 4000000;  // 4 ms -> 50 x = 200 ms
  Calibration c = ThresholdsFrom(slow);
  EXPECT_EQ(c.csd_timeout, absl::Milliseconds(200));
  EXPECT_EQ(c.soft_lockup_threshold, absl::Milliseconds(800));
  slow.max = 1000000;  // 1 ms -> 50 ms: the p50 term (100 ms) wins
  EXPECT_EQ(ThresholdsFrom(slow).csd_timeout, absl::Milliseconds(100));
}

TEST(IpiBenchTest, RejectsOneVcpu) {
  VmSpec spec = vmm::PinnedTestVm("bench", 2);
  spec.vcpus = 1;
  spec.vcpu_affinity.resize(1);
  auto r = RunIpiBench(spec, IpiBenchOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("at least 2"), std::string::npos);
}

TEST(IpiBenchTest, RoundTripsInBothModes) {
  KVMBED_SKIP_WITHOUT_KVM();
  IpiBenchOptions o;
  o.iterations = 300;
  o.warmup = 20;
  for (int mode = 0; mode < 4; ++mode) {
    o.target_spins = mode % 2;
    o.path = mode < 2 ? IpiPath::kOnCpu : IpiPath::kCsd;
    auto r = RunIpiBench(vmm::PinnedTestVm("bench", 2), o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->samples, 300u);
    EXPECT_GT(r->tsc_khz, 0u);
    EXPECT_GT(r->min, 0u);
    EXPECT_LE(r->min, r->p50);
    EXPECT_LE(r->p50, r->p99);
    EXPECT_LE(r->p99, r->max);
    std::printf("%s", FormatIpiLatency(*r).c_str());
  }
}

}  // namespace
}  // namespace runner
}  // namespace kvmbed
