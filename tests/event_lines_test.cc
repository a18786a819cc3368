// The event lines that do not go through EventLog::Emit() (which checks
// every line against base/event_schema.h): the synthetic log the report is
// tested with, and the stall lines both planes build.
#include <cstdlib>
#include <fstream>
#include <string>

#include "base/event_schema.h"
#include "gtest/gtest.h"
#include "hostipi/stall_report.h"
#include "nlohmann/json.hpp"
#include "report/synthetic_log.h"

namespace kvmbed {
namespace {

// The log the report is tested with is a log kvmbed could have written.
TEST(EventLines, TheSyntheticLogFollowsTheSchema) {
  const std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  const std::string path = dir + "/synthetic.jsonl";
  report::SyntheticOptions o;
  o.duration_s = 20;
  report::SyntheticFacts facts;
  ASSERT_TRUE(report::WriteSyntheticLog(path, o, &facts).ok());
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    nlohmann::json j = nlohmann::json::parse(line);
    absl::Status s = CheckEvent(j, Strictness::kStrict);
    EXPECT_TRUE(s.ok()) << path << ":" << n << ": " << s;
  }
  EXPECT_GT(n, 10);
}

// Both planes write their stall reports through hostipi::StallEvent.
TEST(EventLines, StallReportLinesFollowTheSchema) {
  hostipi::StallReport r;
  r.number = 3;
  r.waiter_cpu = 1;
  r.target_cpu = 0;
  r.waited_ns = 5'000'000'000;
  r.func = "flush_tlb_func";
  r.verdict = hostipi::StallVerdict::kLost;
  for (auto kind : {hostipi::StallReport::Kind::kDetected, hostipi::StallReport::Kind::kContinued,
                    hostipi::StallReport::Kind::kUnstuck}) {
    r.kind = kind;
    hostipi::StallEventLine line = hostipi::StallEvent(r, "host", "lost", "text");
    nlohmann::json j = line.fields;
    j["t"] = 0.5;
    j["type"] = line.type;
    EXPECT_TRUE(CheckEvent(j, Strictness::kStrict).ok()) << CheckEvent(j, Strictness::kStrict);
    EXPECT_EQ(line.type, kind == hostipi::StallReport::Kind::kUnstuck ? "stall_cleared" : "stall");
  }
}

}  // namespace
}  // namespace kvmbed
