#include "watch/event_schema.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "hostipi/stall_report.h"
#include "report/synthetic_log.h"

namespace kvmbed {
namespace watch {
namespace {

constexpr char kBegin[] = "<!-- field lists: watch/event_schema.cc; event_schema_test checks them -->";
constexpr char kEnd[] = "<!-- end of field lists -->";

std::string ExpectedBlock() {
  std::string out = absl::StrCat(kBegin, "\n\n| type | fields (`?`: optional) |\n|---|---|\n");
  for (const EventType& t : EventSchema()) {
    absl::StrAppend(&out, "| `", t.type, "` | ",
                    t.open ? "the fields of another document (see below)" : FieldList(t), " |\n");
  }
  absl::StrAppend(&out, "\n", kEnd);
  return out;
}

// docs/events.md lists every event type with exactly the schema's fields.
TEST(EventSchemaTest, TheDocListsExactlyTheSchema) {
  std::ifstream in("docs/events.md");
  ASSERT_TRUE(in) << "docs/events.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  size_t b = doc.find(kBegin);
  size_t e = doc.find(kEnd);
  const std::string want = ExpectedBlock();
  ASSERT_NE(b, std::string::npos) << "docs/events.md has no field-list block; add:\n" << want;
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(doc.substr(b, e + std::string(kEnd).size() - b), want)
      << "docs/events.md and watch/event_schema.cc disagree; the block should read:\n"
      << want;
}

TEST(EventSchemaTest, EveryTypeHasFieldsOnceAndTheRunLinesComeFirst) {
  ASSERT_GE(EventSchema().size(), 3u);
  EXPECT_EQ(EventSchema()[0].type, "run_start");
  for (const EventType& t : EventSchema()) {
    EXPECT_EQ(FindEventType(t.type), &t) << t.type << " listed twice";
    for (size_t i = 0; i < t.fields.size(); ++i) {
      for (size_t j = i + 1; j < t.fields.size(); ++j) {
        EXPECT_NE(t.fields[i].name, t.fields[j].name) << t.type;
      }
    }
  }
}

TEST(EventSchemaTest, ChecksNameTheTypeAndTheField) {
  nlohmann::json ok = {{"t", 1.5}, {"type", "vm_online"}, {"vm", "a"}, {"boot_ms", 3}};
  EXPECT_TRUE(CheckEvent(ok, Strictness::kStrict).ok());
  nlohmann::json missing = {{"t", 1}, {"type", "vm_online"}, {"vm", "a"}};
  EXPECT_EQ(CheckEvent(missing, Strictness::kReader).message(),
            "vm_online: field boot_ms is missing");
  nlohmann::json wrong = {{"t", 1}, {"type", "vm_online"}, {"vm", 3}, {"boot_ms", 3}};
  EXPECT_EQ(CheckEvent(wrong, Strictness::kReader).message(), "vm_online: field vm is not a string");
  nlohmann::json extra = ok;
  extra["boot_s"] = 1;
  EXPECT_TRUE(CheckEvent(extra, Strictness::kReader).ok());  // readers ignore unknown fields
  EXPECT_EQ(CheckEvent(extra, Strictness::kStrict).message(),
            "vm_online: field boot_s is not in the schema (watch/event_schema.cc)");
  nlohmann::json unknown = {{"t", 1}, {"type", "vm_offline"}};
  EXPECT_TRUE(CheckEvent(unknown, Strictness::kReader).ok());
  EXPECT_FALSE(CheckEvent(unknown, Strictness::kStrict).ok());
  EXPECT_FALSE(CheckEvent(nlohmann::json{{"type", "vm_online"}}, Strictness::kReader).ok());
}

// The log the report is tested with is a log kvmbed could have written.
TEST(EventSchemaTest, TheSyntheticLogFollowsTheSchema) {
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
TEST(EventSchemaTest, StallReportLinesFollowTheSchema) {
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
}  // namespace watch
}  // namespace kvmbed
