#include "hostipi/reproduce.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace hostipi {
namespace {

using ::testing::HasSubstr;

// The evidence every lost-IPI report must carry.
void ExpectLostEvidence(const PhaseResult& p) {
  ASSERT_TRUE(p.reproduced) << "no LOST stall within the budget";
  EXPECT_GE(p.lost_waiter, 0);
  EXPECT_GE(p.lost_target, 0);
  EXPECT_NE(p.lost_waiter, p.lost_target);
  EXPECT_GT(p.doorbells_to_lost, 0);
  const std::string& r = p.report;
  EXPECT_THAT(r, HasSubstr("csd: Detected non-responsive CSD lock (#"));
  EXPECT_THAT(r,
              HasSubstr(absl::StrCat("on CPU#", p.lost_waiter, ", waiting ")));
  EXPECT_THAT(r, HasSubstr(absl::StrFormat("for CPU#%02d ", p.lost_target)));
  EXPECT_THAT(r, HasSubstr("is handling no request (unresponsive)"));
  EXPECT_THAT(r, HasSubstr("target mode: in guest"));
  EXPECT_THAT(r, HasSubstr("host_ipi now: 0"));
  EXPECT_THAT(r, HasSubstr("pending messages: CALL_FUNCTION"));
  EXPECT_THAT(r, HasSubstr("(this request is queued)"));
  EXPECT_THAT(r, HasSubstr("doorbell pending: no"));
  EXPECT_THAT(r, HasSubstr("host_ipi==0 while the messages set were: "
                           "CALL_FUNCTION"));
  EXPECT_THAT(r, HasSubstr("verdict: LOST"));
  // The CPU-by-CPU trace ends the story with the ignored doorbell.
  EXPECT_THAT(p.trace, HasSubstr(absl::StrFormat(
                           "%4d: host_ipi == 0: doorbell taken as the guest's "
                           "// IPI IGNORED",
                           p.lost_target)));
  EXPECT_THAT(p.trace,
              HasSubstr(absl::StrFormat("%4d: kvmppc_clear_host_ipi(%d)",
                                        p.lost_target, p.lost_target)));
}

ReproduceOptions Buggy(int scenario, OrderingMode mode, uint64_t seed) {
  ReproduceOptions o;
  o.scenario = scenario;
  o.mode = mode;
  o.seed = seed;
  o.skip_fixed = true;
  o.buggy_budget = absl::Seconds(25);
  return o;
}

TEST(ReproduceTest, Scenario1EmulatedLosesTheIpi) {
  absl::StatusOr<ReproduceResult> r =
      Reproduce(Buggy(1, OrderingMode::kEmulatedPower, 1));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->buggy.kernel_model, "v5.3");
  ExpectLostEvidence(r->buggy);
  // Emulated: the sender's message store was still buffered when the
  // target read its messages.
  EXPECT_THAT(r->buggy.report,
              HasSubstr(absl::StrFormat("ipi_message[%d].CALL_FUNCTION=1",
                                        r->buggy.lost_target)));
  EXPECT_THAT(r->buggy.trace,
              HasSubstr("message[CALL_FUNCTION] = 1   // STORE BUFFERED"));
  // ... and the trace shows it completing only after the target's demux
  // had read the messages without it (the seed's first diagram).
  const std::string& t = r->buggy.trace;
  const size_t completes = t.rfind(absl::StrFormat(
      "message[CALL_FUNCTION] = 1 (to %d)   // BUFFERED STORE COMPLETES",
      r->buggy.lost_target));
  const size_t demux = t.rfind(absl::StrFormat(
      "%4d: smp_ipi_demux_relaxed(): xchg -> ", r->buggy.lost_target));
  const size_t ignored = t.rfind("// IPI IGNORED");
  ASSERT_NE(completes, std::string::npos) << t;
  ASSERT_NE(demux, std::string::npos) << t;
  EXPECT_LT(demux, completes) << t;
  EXPECT_LT(completes, ignored) << t;
}

TEST(ReproduceTest, Scenario2EmulatedLosesTheIpi) {
  absl::StatusOr<ReproduceResult> r =
      Reproduce(Buggy(2, OrderingMode::kEmulatedPower, 1));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->buggy.kernel_model, "v5.4,mb-after-clear=off,demux=peek");
  ExpectLostEvidence(r->buggy);
  // Emulated: the target's own clear was still buffered when it read its
  // messages (and the peek saw nothing).
  EXPECT_THAT(
      r->buggy.report,
      HasSubstr(absl::StrFormat("CPU#%d host_ipi[%d]=0", r->buggy.lost_target,
                                r->buggy.lost_target)));
  EXPECT_THAT(r->buggy.trace, HasSubstr("(peek saw 0, no xchg)"));
  // The clear completes after a sender set host_ipi, before the doorbell
  // is ignored (the seed's second diagram).
  const std::string& t = r->buggy.trace;
  const int d = r->buggy.lost_target;
  const size_t completes = t.rfind(absl::StrFormat(
      "%4d: kvmppc_clear_host_ipi(%d)   // BUFFERED STORE COMPLETES", d, d));
  const size_t set =
      t.rfind(absl::StrFormat("kvmppc_set_host_ipi(%d, 1)", d), completes);
  const size_t ignored = t.rfind("// IPI IGNORED");
  ASSERT_NE(completes, std::string::npos) << t;
  ASSERT_NE(set, std::string::npos) << t;
  EXPECT_LT(completes, ignored) << t;
}

TEST(ReproduceTest, StreamsEveryStallReport) {
  ReproduceOptions o = Buggy(2, OrderingMode::kEmulatedPower, 1);
  std::vector<std::string> lines;
  o.on_stall = [&](const StallReport& r) {
    lines.push_back(StallReportToJson(r));
  };
  absl::StatusOr<ReproduceResult> r = Reproduce(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->buggy.reproduced);
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), HasSubstr("\"verdict\":\"LOST\""));
  EXPECT_THAT(lines.back(), HasSubstr(absl::StrCat(
                                "\"target_cpu\":", r->buggy.lost_target)));
}

TEST(ReproduceTest, EmulatedRunsReplayFromTheirSeed) {
  absl::StatusOr<ReproduceResult> a =
      Reproduce(Buggy(2, OrderingMode::kEmulatedPower, 5));
  absl::StatusOr<ReproduceResult> b =
      Reproduce(Buggy(2, OrderingMode::kEmulatedPower, 5));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->buggy.reproduced && b->buggy.reproduced);
  EXPECT_EQ(a->buggy.doorbells_to_lost, b->buggy.doorbells_to_lost);
  EXPECT_EQ(a->buggy.lost_target, b->buggy.lost_target);
  EXPECT_EQ(a->buggy.trace, b->buggy.trace);
}

TEST(ReproduceTest, Scenario2NativeLosesTheIpi) {
  if (std::thread::hardware_concurrency() < 2) {
    GTEST_SKIP() << "native scenario 2 needs two host CPUs racing; this "
                    "machine has one";
  }
  ReproduceOptions o = Buggy(2, OrderingMode::kNative, 1);
  o.threshold_ns = 100'000'000;  // no calibration run: save test time
  absl::StatusOr<ReproduceResult> r = Reproduce(o);
  ASSERT_TRUE(r.ok()) << r.status();
  // Real hardware: the loss is a race. Idle, this machine sends ~0.7 M
  // doorbells/s and loses one every ~0.6 M (median, kvmbed bench reproduce); 8 M
  // without a loss means detection is broken. A machine so loaded by other
  // jobs that it cannot send 8 M in the budget proves nothing either way.
  constexpr int64_t kEnough = 8'000'000;
  if (!r->buggy.reproduced && r->buggy.doorbells < kEnough) {
    GTEST_SKIP() << "host too loaded to judge: only " << r->buggy.doorbells
                 << " doorbells in " << r->buggy.seconds << " s (need "
                 << kEnough << ")";
  }
  ExpectLostEvidence(r->buggy);
}

TEST(ReproduceTest, FixedModelsStayCleanWithTheSameLoad) {
  struct Case {
    int scenario;
    OrderingMode mode;
    int64_t doorbells;
  } cases[] = {
      {1, OrderingMode::kEmulatedPower, 150'000},
      {2, OrderingMode::kEmulatedPower, 150'000},
      {2, OrderingMode::kNative, 300'000},
  };
  for (const Case& c : cases) {
    ReproduceOptions o;
    o.scenario = c.scenario;
    o.mode = c.mode;
    o.skip_buggy = true;
    o.fixed_doorbells = c.doorbells;
    o.fixed_budget = absl::Seconds(15);
    o.threshold_ns = c.mode == OrderingMode::kNative ? 500'000'000 : 0;
    absl::StatusOr<ReproduceResult> r = Reproduce(o);
    ASSERT_TRUE(r.ok()) << r.status();
    SCOPED_TRACE(r->fixed.kernel_model);
    EXPECT_GE(r->fixed.doorbells, c.doorbells);
    EXPECT_EQ(r->fixed.stalls_lost, 0) << r->fixed.report;
    EXPECT_NEAR(r->p_bound, 3.0 / r->fixed.doorbells, 1e-12);
    const std::string text = RenderReproduceResult(*r);
    EXPECT_THAT(text, HasSubstr("p < 3/N"));
    EXPECT_THAT(text, HasSubstr(r->fixed.kernel_model));
  }
}

// Each barrier site matters on its own (emulated, same load and seed):
// dropping one fix loses an IPI, and the shapes a remaining barrier or an
// ordered xchg forbids stay clean.
TEST(ReproduceTest, EachBarrierSiteMatters) {
  for (const char* model :
       {"v5.4,mb-before-set=off", "v5.4,mb-after-clear=off,demux=peek",
        "v5.4,mb-after-clear=off,demux=xchg-relaxed"}) {
    ReproduceOptions o = Buggy(1, OrderingMode::kEmulatedPower, 1);
    o.buggy_model = KernelModel::Known(model);
    absl::StatusOr<ReproduceResult> r = Reproduce(o);
    ASSERT_TRUE(r.ok()) << r.status();
    SCOPED_TRACE(model);
    ExpectLostEvidence(r->buggy);
  }
  for (const char* model :
       {"v5.4,mb-after-clear=off", "v5.4,demux=xchg-relaxed",
        "v5.4,message-pass-mb=off"}) {
    ReproduceOptions o;
    o.scenario = 1;
    o.mode = OrderingMode::kEmulatedPower;
    o.skip_buggy = true;
    o.fixed_model = KernelModel::Known(model);
    o.fixed_doorbells = 150'000;
    o.fixed_budget = absl::Seconds(10);
    absl::StatusOr<ReproduceResult> r = Reproduce(o);
    ASSERT_TRUE(r.ok()) << r.status();
    SCOPED_TRACE(model);
    EXPECT_GE(r->fixed.doorbells, 150'000);
    EXPECT_EQ(r->fixed.stalls_lost, 0) << r->fixed.report;
  }
}

TEST(ReproduceTest, PassNeedsBothPhases) {
  ReproduceOptions o;
  o.scenario = 2;
  o.mode = OrderingMode::kEmulatedPower;
  o.fixed_doorbells = 10'000;
  absl::StatusOr<ReproduceResult> r = Reproduce(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->buggy.reproduced);
  EXPECT_EQ(r->fixed.stalls_lost, 0);
  EXPECT_TRUE(r->pass);
  const std::string text = RenderReproduceResult(*r);
  EXPECT_THAT(text, HasSubstr("REPRODUCED: lost IPI after"));
  EXPECT_THAT(text, HasSubstr("== result: PASS"));
  const std::string json = ReproduceResultToJson(*r);
  EXPECT_THAT(json, HasSubstr("\"pass\":true"));
  EXPECT_THAT(json, HasSubstr("\"kernel_model\":\"v5.4,demux=peek\""));
  EXPECT_THAT(json, HasSubstr("\"reproduced\":true"));

  // A "buggy" model that is in fact fixed cannot reproduce: FAIL.
  o.buggy_model = KernelModel::Known("v5.4,demux=peek");
  o.buggy_budget = absl::Seconds(1);
  o.fixed_doorbells = 1000;
  r = Reproduce(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->buggy.reproduced);
  EXPECT_FALSE(r->pass);
  EXPECT_THAT(RenderReproduceResult(*r), HasSubstr("== result: FAIL"));
}

TEST(ReproduceTest, BadOptionsGiveClearErrors) {
  ReproduceOptions o;
  o.scenario = 3;
  EXPECT_THAT(std::string(Reproduce(o).status().message()),
              HasSubstr("use 1 (sender's stores reordered) or 2"));
  o.scenario = 1;
  o.mode = OrderingMode::kNative;
  EXPECT_THAT(std::string(Reproduce(o).status().message()),
              HasSubstr("use mode emulated-power for scenario 1"));
  o.mode = OrderingMode::kEmulatedPower;
  o.num_cpus = 1;
  EXPECT_THAT(std::string(Reproduce(o).status().message()),
              HasSubstr("cpus=1 is out of range"));
  o.num_cpus = 0;
  o.buggy_budget = absl::Seconds(-1);
  EXPECT_THAT(std::string(Reproduce(o).status().message()),
              HasSubstr("budgets must be > 0"));
  o.buggy_budget = absl::Seconds(1);
  o.threshold_ns = -5;
  EXPECT_THAT(std::string(Reproduce(o).status().message()),
              HasSubstr("must be >= 0"));
  o.threshold_ns = 0;
  o.pin_cpus = {9999};
  EXPECT_THAT(std::string(Reproduce(o).status().message()),
              HasSubstr("pin cpu 9999 does not exist"));
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
