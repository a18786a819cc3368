// The `reproduce.wakelist:` sub-map (muxed-ipi-wakelist) and its shipped
// profile configs/reproduce-muxed-ipi-wakelist.yaml.
#include <string>

#include "configs/profile.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace {

using ::testing::HasSubstr;

ProfileOptions TwoCpuHost() {
  ProfileOptions o;
  o.host_cpus = std::vector<int>{0, 1};
  return o;
}

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<RunSpec> spec =
      LoadProfileFromString(text, "t.yaml", TwoCpuHost());
  return spec.ok() ? "<loaded>" : std::string(spec.status().message());
}

constexpr char kHead[] =
    "name: r\nvcpus: 2\nmemory: 64M\nreproduce:\n  scenario: "
    "muxed-ipi-wakelist\n";

TEST(WakelistProfileTest, ShippedProfileLoads) {
  absl::StatusOr<RunSpec> spec = LoadProfile(
      "configs/reproduce-muxed-ipi-wakelist.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  const ReproduceSpec& r = spec->reproduce;
  EXPECT_TRUE(r.present);
  EXPECT_EQ(r.scenario, "muxed-ipi-wakelist");
  EXPECT_EQ(r.buggy_budget, absl::Seconds(30));
  EXPECT_EQ(r.fixed_budget, absl::Seconds(20));
  EXPECT_EQ(r.fixed_operations, 1000000);
  EXPECT_EQ(r.seed, 1u);
  EXPECT_EQ(r.wl_mode, "emulated-power");
  EXPECT_EQ(r.wl_cpus, 4);
  EXPECT_EQ(r.wl_buggy_model, "pre-9fb1b36");
  EXPECT_EQ(r.wl_fixed_model, "9fb1b36");
  EXPECT_EQ(r.wl_threshold_ticks, 200000);
  // The compiled-in copy is the same file.
  EXPECT_FALSE(ShippedProfileText("reproduce-muxed-ipi-wakelist").empty());
}

TEST(WakelistProfileTest, DefaultsWithoutTheSubMap) {
  absl::StatusOr<RunSpec> spec =
      LoadProfileFromString(kHead, "t.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->reproduce.wl_cpus, 4);
  EXPECT_EQ(spec->reproduce.wl_buggy_model, "pre-9fb1b36");
  EXPECT_EQ(spec->reproduce.wl_fixed_model, "9fb1b36");
  EXPECT_EQ(spec->reproduce.wl_threshold_ticks, 0);
}

TEST(WakelistProfileTest, BadInputNamesFileFieldAndFix) {
  struct Case {
    const char* section;
    const char* expect;
  } cases[] = {
      {"  wakelist: {mode: tso}",
       "t.yaml:6:20: reproduce.wakelist.mode: 'tso' is not a mode; use "
       "emulated-power"},
      {"  wakelist: {cpus: 1}",
       "reproduce.wakelist.cpus: 1 is out of range; use a number from 2 to 64"},
      {"  wakelist: {buggy_model: v5.5}",
       "reproduce.wakelist.buggy_model: kernel model \"v5.5\": unknown kernel "
       "model preset \"v5.5\"; known presets: pre-9fb1b36, 9fb1b36"},
      {"  wakelist: {fixed_model: \"9fb1b36,cause-ipi-mb=1\"}",
       "reproduce.wakelist.fixed_model: kernel model "
       "\"9fb1b36,cause-ipi-mb=1\": site cause-ipi-mb=\"1\" is not on/off"},
      {"  wakelist: {threshold_ticks: 0}",
       "reproduce.wakelist.threshold_ticks: expected a whole number of "
       "virtual ticks >= 1"},
      {"  wakelist: {cpu: 4}",
       "reproduce.wakelist.cpu: unknown key; did you mean 'cpus'?"},
      {"  threshold: 300ms\n  wakelist: {cpus: 4}",
       "reproduce.threshold: muxed-ipi-wakelist counts its hung-task "
       "threshold in virtual ticks; write wakelist: {threshold_ticks: "
       "200000} instead"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ErrorOf(std::string(kHead) + c.section + "\n"),
                HasSubstr(c.expect))
        << c.section;
  }
}

}  // namespace
}  // namespace kvmbed
