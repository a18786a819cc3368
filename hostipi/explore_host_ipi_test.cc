#include "hostipi/explore_host_ipi.h"

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace kvmbed {
namespace hostipi {
namespace {

// sequence: a fixed message sequence ("rs,cf") instead of every sequence of
// `ipis` (a smaller search, for the cases that only need to show a loss).
HostIpiExploreResult ExploreModel(const std::string& model, int cpus, int ipis,
                                  bool expect_lost = true, const std::string& sequence = "") {
  HostIpiExploreOptions o;
  o.decide_depth_first = !expect_lost;
  if (!sequence.empty()) o.sequence = *ParseMessageSequence(sequence);
  o.model = *KernelModel::Parse(model);
  o.cpus = cpus;
  o.ipis = ipis;
  absl::StatusOr<HostIpiExploreResult> r = ExploreLostHostIpi(o);
  EXPECT_TRUE(r.ok()) << r.status();
  std::fputs(RenderHostIpiExplore(*r).c_str(), stdout);
  return *r;
}

bool TraceHas(const HostIpiExploreResult& r, const std::string& text) {
  for (const std::string& line : r.report.trace) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

// Scenario 1: the sender's host_ipi store overtakes its message store, the
// target's clear lands over it, and the next doorbell is ignored.
TEST(ExploreHostIpi, V53LosesAnIpi) {
  HostIpiExploreResult r = ExploreModel("v5.3", 2, 2);
  ASSERT_TRUE(r.lost);
  EXPECT_EQ(r.report.verdict, StallVerdict::kLost);
  EXPECT_TRUE(TraceHas(r, "IPI IGNORED"));
  EXPECT_TRUE(TraceHas(r, "read kvm_hstate.host_ipi reads 0"));
  EXPECT_TRUE(TraceHas(r, "coherence-before what CPU 1 has"));
  const std::string text = FormatStallReport(r.report);
  EXPECT_NE(text.find("verdict: LOST"), std::string::npos);
  EXPECT_NE(text.find("kernel model: v5.3"), std::string::npos);
}

// One IPI cannot be lost: the target needs an earlier doorbell to be
// handling when the next IPI's stores race with its clear.
TEST(ExploreHostIpi, OneIpiIsNeverLostEvenOnV53) {
  HostIpiExploreResult r = ExploreModel("v5.3", 2, 1, /*expect_lost=*/false);
  EXPECT_FALSE(r.lost);
  EXPECT_TRUE(r.complete);
  EXPECT_GT(r.explore.states, 100);
}

// Each 3a83f677 barrier alone is not enough: without the one before the
// set the sender side still loses an IPI.
TEST(ExploreHostIpi, WithoutTheBarrierBeforeTheSetAnIpiIsLost) {
  HostIpiExploreResult r = ExploreModel("v5.4,mb-before-set=off", 2, 2, true, "rs,cf");
  EXPECT_TRUE(r.lost);
}

TEST(ExploreHostIpi, BadOptions) {
  HostIpiExploreOptions o;
  o.cpus = 1;
  EXPECT_FALSE(ExploreLostHostIpi(o).ok());
  o.cpus = 2;
  o.ipis = 0;
  EXPECT_FALSE(ExploreLostHostIpi(o).ok());
  o.ipis = 1;
  o.window = 0;
  EXPECT_FALSE(ExploreLostHostIpi(o).ok());
}

TEST(ExploreHostIpi, V53PeekLosesAnIpi) {
  HostIpiExploreResult r = ExploreModel("v5.3,demux=peek", 2, 2, true, "rs,cf");
  ASSERT_TRUE(r.lost);
  EXPECT_TRUE(TraceHas(r, "peek message[CALL_FUNCTION] reads 0"));
}

// A fixed message sequence explores fewer executions than every sequence.
TEST(ExploreHostIpi, ExploreFixedSequence) {
  HostIpiExploreOptions o;
  o.model = *KernelModel::Parse("v5.3");
  o.sequence = *ParseMessageSequence("rs,cf");
  o.decide_depth_first = false;
  absl::StatusOr<HostIpiExploreResult> r = ExploreLostHostIpi(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->lost);
  o.sequence = *ParseMessageSequence("cf,rs");
  r = ExploreLostHostIpi(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->lost);  // the RESCHEDULE after the call finds nobody waiting
  EXPECT_TRUE(r->complete);
  EXPECT_FALSE(ParseMessageSequence("rs,xx").ok());
}

TEST(ExploreHostIpi, V54IsProvenClean) {
  HostIpiExploreResult r = ExploreModel("v5.4", 2, 2, /*expect_lost=*/false);
  EXPECT_FALSE(r.lost);
  EXPECT_TRUE(r.complete);
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
