#include "hostipi/stall_report.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace hostipi {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

StallReport Sample() {
  StallReport r;
  r.number = 3;
  r.waiter_cpu = 105;
  r.target_cpu = 42;
  r.waited_ns = 5000123;
  r.func = "do_nothing";
  r.info = 0x2a;
  r.facts = {{"target mode", "in guest"}, {"host_ipi now", "0"}};
  r.verdict = StallVerdict::kLost;
  r.verdict_reason = "because";
  r.trace = {"   42: kvmppc_clear_host_ipi(42)"};
  return r;
}

TEST(StallReportTest, KernelLikeHeadlineNamesWaiterTargetAndFunction) {
  StallReport r = Sample();
  EXPECT_EQ(FormatStallHeadline(r),
            "csd: Detected non-responsive CSD lock (#3) on CPU#105, waiting "
            "5000123 ns for CPU#42 do_nothing(0x2a).");
  r.kind = StallReport::Kind::kContinued;
  r.target_cpu = 7;
  r.clock_unit = "ticks";
  EXPECT_EQ(FormatStallHeadline(r),
            "csd: Continued non-responsive CSD lock (#3) on CPU#105, waiting "
            "5000123 ticks for CPU#07 do_nothing(0x2a).");
}

TEST(StallReportTest, BodyHasActivityFactsVerdictAndTrace) {
  StallReport r = Sample();
  std::string text = FormatStallReport(r);
  EXPECT_THAT(text, StartsWith("csd: Detected non-responsive CSD lock (#3)"));
  EXPECT_THAT(
      text,
      HasSubstr("\n\tcsd: CPU#42 is handling no request (unresponsive).\n"));
  EXPECT_THAT(text,
              HasSubstr("\n\ttarget mode: in guest\n\thost_ipi now: 0\n"));
  EXPECT_THAT(text, HasSubstr("\n\tverdict: LOST - because\n"));
  EXPECT_THAT(text, HasSubstr("trace of the CPUs involved (oldest first):\n"
                              "   42: kvmppc_clear_host_ipi(42)\n"));

  r.activity = TargetActivity::kPriorRequest;
  r.prior_sender = 31;
  r.prior_func = "kvm_flush_tlb_func";
  r.verdict = StallVerdict::kSlow;
  text = FormatStallReport(r);
  EXPECT_THAT(text, HasSubstr("CPU#42 is handling a prior request: "
                              "kvm_flush_tlb_func from CPU#31."));
  EXPECT_THAT(text, HasSubstr("verdict: SLOW"));
  r.activity = TargetActivity::kThisRequest;
  EXPECT_THAT(FormatStallReport(r),
              HasSubstr("CPU#42 is handling this request."));
}

TEST(StallReportTest, UnstuckIsOneLine) {
  StallReport r = Sample();
  r.kind = StallReport::Kind::kUnstuck;
  r.verdict = StallVerdict::kSlow;
  EXPECT_EQ(FormatStallReport(r),
            "csd: CSD lock (#3) got unstuck on CPU#105 after 5000123 ns: "
            "CPU#42 released it (verdict: SLOW).\n");
}

TEST(StallReportTest, JsonCarriesEveryField) {
  const std::string j = StallReportToJson(Sample());
  EXPECT_THAT(j, HasSubstr("\"event\":\"csd_stall\""));
  EXPECT_THAT(j, HasSubstr("\"kind\":\"detected\""));
  EXPECT_THAT(j, HasSubstr("\"waiter_cpu\":105"));
  EXPECT_THAT(j, HasSubstr("\"target_cpu\":42"));
  EXPECT_THAT(j, HasSubstr("\"func\":\"do_nothing\""));
  EXPECT_THAT(j, HasSubstr("\"verdict\":\"LOST\""));
  EXPECT_THAT(j, HasSubstr("\"host_ipi now\":\"0\""));
  EXPECT_EQ(j.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
