#include "base/event_schema.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace {

constexpr char kBegin[] = "<!-- field lists: base/event_schema.cc; event_schema_test checks them -->";
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
      << "docs/events.md and base/event_schema.cc disagree; the block should read:\n"
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
            "vm_online: field boot_s is not in the schema (base/event_schema.cc)");
  nlohmann::json unknown = {{"t", 1}, {"type", "vm_offline"}};
  EXPECT_TRUE(CheckEvent(unknown, Strictness::kReader).ok());
  EXPECT_FALSE(CheckEvent(unknown, Strictness::kStrict).ok());
  EXPECT_FALSE(CheckEvent(nlohmann::json{{"type", "vm_online"}}, Strictness::kReader).ok());
}

}  // namespace
}  // namespace kvmbed
