// The soak's verdict, exit code and JUnit from what a run measured, and the
// host stress plumbing: no /dev/kvm needed.
#include "runner/soak.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace runner {
namespace {

RunSpec Spec() {
  RunSpec s;
  s.name = "t";
  s.source = "t.yaml";
  s.duration = absl::Seconds(10);
  s.host_stress.enabled = true;
  return s;
}

SmpRunResult Clean(const std::string& name) {
  SmpRunResult r;
  r.vm.name = name;
  r.vm.all_online = true;
  r.vm.run_time = absl::Seconds(10);
  r.success = true;
  return r;
}

SoakFacts Facts(const RunSpec& spec, const std::vector<SmpRunResult>& results) {
  SoakFacts f;
  f.spec = &spec;
  f.results = &results;
  f.events_path = "t.jsonl";
  f.started = absl::FromUnixSeconds(1700000000);
  f.wall = f.ran_for = absl::Seconds(10);
  f.host_stress_ran = true;
  return f;
}

const JUnitCase* Case(const SoakSummary& s, const std::string& name) {
  for (const JUnitSuite& suite : s.junit.suites()) {
    for (const JUnitCase& c : suite.cases) {
      if (c.name == name) return &c;
    }
  }
  return nullptr;
}

TEST(SoakSummaryTest, CleanRunIsSuccessWithEveryCasePassed) {
  RunSpec spec = Spec();
  std::vector<SmpRunResult> results = {Clean("a"), Clean("b")};
  results[0].stats.count[abi::kCntIpisSent] = 5;
  results[1].stats.count[abi::kCntIpisSent] = 7;
  SoakSummary s = SummarizeSoak(Facts(spec, results));
  EXPECT_EQ(s.exit_code, 0);
  EXPECT_EQ(s.verdict, "SUCCESS");
  EXPECT_EQ(s.ipis, 12u);
  ASSERT_NE(Case(s, "a: no lost IPI"), nullptr);
  EXPECT_EQ(Case(s, "a: no lost IPI")->result, JUnitCase::Result::kPassed);
  EXPECT_EQ(Case(s, "host stress ok")->result, JUnitCase::Result::kPassed);
  EXPECT_EQ(Case(s, "event log complete")->result, JUnitCase::Result::kPassed);
  EXPECT_NE(s.text.find("== VM b: clean =="), std::string::npos) << s.text;
}

TEST(SoakSummaryTest, ALostGuestStallFailsWithItsReport) {
  RunSpec spec = Spec();
  std::vector<SmpRunResult> results = {Clean("a")};
  SmpRunResult& r = results[0];
  r.success = false;
  r.failure_reason = "csd stall";
  r.lost_stalls = 1;
  CsdStall st;
  st.verdict = hostipi::StallVerdict::kLost;
  st.first_report = "csd: Detected non-responsive CSD lock (#1) ... verdict: LOST";
  r.stalls.push_back(st);
  SoakSummary s = SummarizeSoak(Facts(spec, results));
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_EQ(s.verdict, "lost IPI");
  const JUnitCase* c = Case(s, "a: no lost IPI");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->result, JUnitCase::Result::kFailed);
  EXPECT_EQ(c->type, "lost_ipi");
  EXPECT_EQ(c->details, st.first_report);
}

TEST(SoakSummaryTest, ALostHostIpiNamesTheKernelModel) {
  RunSpec spec = Spec();
  std::vector<SmpRunResult> results = {Clean("a")};
  results[0].success = false;
  results[0].host_plane = true;
  results[0].host.lost = 2;
  results[0].host.kernel_model = "v5.3";
  results[0].host.first_lost_report = "LOST report";
  SoakSummary s = SummarizeSoak(Facts(spec, results));
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_EQ(s.verdict, "lost host IPI");
  const JUnitCase* c = Case(s, "a: no lost IPI");
  EXPECT_EQ(c->type, "lost_host_ipi");
  EXPECT_NE(c->message.find("kernel model v5.3"), std::string::npos) << c->message;
}

TEST(SoakSummaryTest, AFailedHostStressFailsTheRunAndAMissingOneIsSkipped) {
  RunSpec spec = Spec();
  std::vector<SmpRunResult> results = {Clean("a")};
  SoakFacts f = Facts(spec, results);
  f.stress_problem = "stress-ng: exit 1";
  SoakSummary failed = SummarizeSoak(f);
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_EQ(failed.verdict, "FAILURE");
  EXPECT_EQ(Case(failed, "host stress ok")->result, JUnitCase::Result::kFailed);

  f.stress_problem.clear();
  f.host_stress_ran = false;
  SoakSummary skipped = SummarizeSoak(f);
  EXPECT_EQ(skipped.exit_code, 0);
  EXPECT_EQ(Case(skipped, "host stress ok")->result, JUnitCase::Result::kSkipped);
  EXPECT_EQ(Case(skipped, "host stress ok")->message, "--host-stress=false");
}

TEST(SoakSummaryTest, AFailedEventLogIsExitTwoEvenWhenAStallWasFound) {
  RunSpec spec = Spec();
  std::vector<SmpRunResult> results = {Clean("a")};
  results[0].success = false;
  SoakFacts f = Facts(spec, results);
  f.event_log_ok = false;
  f.event_log_error = "t.jsonl: write: No space left on device";
  SoakSummary s = SummarizeSoak(f);
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_EQ(s.verdict, "event log failed");
  const JUnitCase* c = Case(s, "event log complete");
  EXPECT_EQ(c->result, JUnitCase::Result::kError);
  EXPECT_EQ(c->message, f.event_log_error);
}

TEST(SoakSummaryTest, AVmFailedByTheHostIsExitTwoNotAFinding) {
  RunSpec spec = Spec();
  std::vector<SmpRunResult> results = {Clean("a"), Clean("b")};
  results[1].success = false;
  results[1].failure_reason = "vCPU 1 stopped";
  results[1].vm.all_online = false;
  results[1].vm.error =
      vmm::MarkHostError(absl::InternalError("KVM_CREATE_VCPU: Cannot allocate memory"));
  // Even a lost IPI in the other VM does not make the run a finding.
  results[0].success = false;
  results[0].lost_stalls = 1;
  SoakSummary s = SummarizeSoak(Facts(spec, results));
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_EQ(s.verdict, "host error");
  const JUnitCase* c = Case(s, "vm b");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->result, JUnitCase::Result::kError);
  EXPECT_EQ(c->type, "host_error");
  EXPECT_NE(s.text.find("host error: vm b: KVM_CREATE_VCPU"), std::string::npos) << s.text;

  // The same VM failing on the guest's side is a finding.
  results[1].vm.error = absl::InternalError("guest triple fault");
  SoakSummary guest = SummarizeSoak(Facts(spec, results));
  EXPECT_EQ(guest.exit_code, 1);
  EXPECT_EQ(guest.verdict, "lost IPI");
  EXPECT_EQ(Case(guest, "vm b")->result, JUnitCase::Result::kFailed);
}

TEST(SoakSummaryTest, StressNgThatCouldNotStartIsExitTwo) {
  RunSpec spec = Spec();
  std::vector<SmpRunResult> results = {Clean("a")};
  SoakFacts f = Facts(spec, results);
  f.stress_problem = "stress-ng could not start: exit status 127, ended before the run did";
  f.stress_host_error = true;
  SoakSummary s = SummarizeSoak(f);
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_EQ(s.verdict, "host error");
  const JUnitCase* c = Case(s, "host stress ok");
  EXPECT_EQ(c->result, JUnitCase::Result::kError);
  EXPECT_EQ(c->type, "host_error");
  EXPECT_EQ(c->message, f.stress_problem);
}

TEST(SoakSummaryTest, ASoftLockupFailsItsCase) {
  RunSpec spec = Spec();
  std::vector<SmpRunResult> results = {Clean("a")};
  results[0].success = false;
  SoftLockupRecord l;
  l.report = "watchdog: BUG: soft lockup - CPU#1 stuck for 3s!";
  results[0].soft_lockups.push_back(l);
  SoakSummary s = SummarizeSoak(Facts(spec, results));
  EXPECT_EQ(s.exit_code, 1);
  const JUnitCase* c = Case(s, "a: no soft lockup");
  EXPECT_EQ(c->result, JUnitCase::Result::kFailed);
  EXPECT_EQ(c->details, l.report);
}

TEST(HostStressTest, CommandLineCarriesTheProfileAndABackstopTimeout) {
  HostStressSpec h;
  h.cpu = 4;
  h.io = 2;
  h.vm = 1;
  h.vm_bytes = 512ull << 20;
  h.cpus = {0, 1};
  std::vector<std::string> argv = HostStressCommandLine(h, absl::Seconds(60), "x.yaml");
  std::vector<std::string> want = {"stress-ng", "--cpu", "4", "--io", "2", "--vm", "1",
                                   "--vm-bytes", "524288K", "--taskset", "0,1", "--metrics",
                                   "--yaml", "x.yaml", "--timeout", "180s"};
  EXPECT_EQ(argv, want);
}

TEST(HostStressTest, MetricsAreReadFromStressNgYamlAndGarbageIsAnError) {
  const std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  const std::string good = dir + "/metrics.yaml";
  std::ofstream(good) << "system-info:\n  hostname: h\nmetrics:\n"
                         "    - stressor: cpu\n      bogo-ops: 1234\n"
                         "      bogo-ops-per-second-real-time: 41.5\n";
  absl::StatusOr<nlohmann::json> m = ReadStressNgMetrics(good);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0]["stressor"], "cpu");
  EXPECT_EQ((*m)[0]["bogo_ops"], 1234.0);
  EXPECT_EQ((*m)[0]["bogo_ops_per_second_real_time"], 41.5);

  const std::string bad = dir + "/bad.yaml";
  std::ofstream(bad) << "nothing: here\n";
  absl::StatusOr<nlohmann::json> b = ReadStressNgMetrics(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(std::string(b.status().message()).find("no 'metrics' list"), std::string::npos);
}

}  // namespace
}  // namespace runner
}  // namespace kvmbed
