// The profile's `reproduce:` section (RunSpec::reproduce) and the shipped
// configs/reproduce-*.yaml profiles.
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

constexpr char kHead[] = "name: r\nvcpus: 2\nmemory: 64M\n";

TEST(ReproduceProfileTest, ShippedWakelistProfileLoads) {
  absl::StatusOr<RunSpec> spec = LoadProfile(
      "configs/reproduce-muxed-ipi-wakelist.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  const ReproduceSpec& r = spec->reproduce;
  EXPECT_EQ(r.scenario, "muxed-ipi-wakelist");
  EXPECT_EQ(r.mode, "emulated-power");
  EXPECT_EQ(r.cpus, 4);
  EXPECT_EQ(r.seed, 1u);
  EXPECT_EQ(r.buggy_model, "pre-9fb1b36");
  EXPECT_EQ(r.fixed_model, "9fb1b36");
  EXPECT_EQ(r.buggy_budget, absl::Seconds(30));
  EXPECT_EQ(r.fixed_budget, absl::Seconds(20));
  EXPECT_EQ(r.fixed_operations, 1000000);
  EXPECT_EQ(r.threshold, 200000);
}

TEST(ReproduceProfileTest, AbsentSectionAndDefaults) {
  absl::StatusOr<RunSpec> spec =
      LoadProfileFromString(kHead, "t.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->reproduce.scenario.empty());
  spec = LoadProfileFromString(
      std::string(kHead) + "reproduce: {scenario: lost-host-ipi}\n", "t.yaml",
      TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->reproduce.scenario, "lost-host-ipi");
  EXPECT_EQ(spec->reproduce.cpus, 0);
  EXPECT_EQ(spec->reproduce.fixed_operations, -1);
  EXPECT_EQ(spec->reproduce.threshold, 0);
  EXPECT_TRUE(spec->reproduce.buggy_model.empty());
}

TEST(ReproduceProfileTest, BadInputNamesFileFieldAndFix) {
  struct Case {
    const char* section;
    const char* expect;
  } cases[] = {
      {"reproduce: {mode: native}",
       "reproduce.scenario: missing required field; add e.g. 'scenario: "
       "muxed-ipi-wakelist'"},
      {"reproduce: {scenario: x, mode: tso}",
       "t.yaml:4:32: reproduce.mode: 'tso' is not a mode; use native or "
       "emulated-power"},
      {"reproduce: {scenario: x, buggy_model: v5.5}",
       "reproduce.buggy_model: kernel model \"v5.5\": unknown kernel model preset \"v5.5\"; known presets: pre-9fb1b36, 9fb1b36"},
      {"reproduce: {scenario: x, fixed_model: \"9fb1b36,cause-ipi-mb=1\"}",
       "reproduce.fixed_model: kernel model \"9fb1b36,cause-ipi-mb=1\": site "
       "cause-ipi-mb=\"1\" is not on/off"},
      {"reproduce: {scenario: x, threshold: 0}",
       "reproduce.threshold: expected a whole number >= 1"},
      {"reproduce: {scenario: x, fixed_operations: -5}",
       "reproduce.fixed_operations: expected a whole number >= 0"},
      {"reproduce: {scenario: x, fixed_budget: 10}",
       "reproduce.fixed_budget: expected a duration with a unit"},
      {"reproduce: {scenario: x, cpu: 4}",
       "reproduce.cpu: unknown key; did you mean 'cpus'?"},
      {"reproduce: {scenario: \"a b\"}", "reproduce.scenario: 'a b' is not a "
                                         "valid name"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ErrorOf(std::string(kHead) + c.section + "\n"),
                HasSubstr(c.expect))
        << c.section;
  }
}

}  // namespace
}  // namespace kvmbed
