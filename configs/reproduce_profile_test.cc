// The host-plane reproduce sub-maps, `reproduce.wakelist:` (muxed-ipi-wakelist)
// and `reproduce.lost_host_ipi:` (lost-host-ipi), and their shipped profiles.
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
  absl::StatusOr<ScenarioProfile> spec =
      LoadScenarioProfileFromString(text, "t.yaml", TwoCpuHost());
  return spec.ok() ? "<loaded>" : std::string(spec.status().message());
}

constexpr char kHead[] =
    "name: r\nvcpus: 2\nmemory: 64M\nreproduce:\n  scenario: "
    "muxed-ipi-wakelist\n";

TEST(WakelistProfileTest, ShippedProfileLoads) {
  absl::StatusOr<ScenarioProfile> spec = LoadScenarioProfile(
      "configs/reproduce-muxed-ipi-wakelist.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  const ReproduceSpec& r = spec->reproduce;
  EXPECT_TRUE(r.present);
  EXPECT_EQ(r.scenario, "muxed-ipi-wakelist");
  EXPECT_EQ(r.buggy_budget, absl::Seconds(30));
  EXPECT_EQ(r.fixed_budget, absl::Seconds(20));
  EXPECT_EQ(r.fixed_operations, 1000000);
  EXPECT_EQ(r.seed, 1u);
  EXPECT_EQ(r.wakelist.mode, hostipi::OrderingMode::kEmulatedPower);
  EXPECT_EQ(r.wakelist.cpus, 4);
  EXPECT_EQ(r.wakelist.buggy_model.ToString(), "pre-9fb1b36");
  EXPECT_EQ(r.wakelist.fixed_model.ToString(), "9fb1b36");
  EXPECT_EQ(r.wakelist.threshold_ticks, 200000);
  // The compiled-in copy is the same file.
  EXPECT_FALSE(ShippedProfileText("reproduce-muxed-ipi-wakelist").empty());
}

TEST(WakelistProfileTest, DefaultsWithoutTheSubMap) {
  absl::StatusOr<ScenarioProfile> spec =
      LoadScenarioProfileFromString(kHead, "t.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->reproduce.wakelist.cpus, 4);
  EXPECT_EQ(spec->reproduce.wakelist.buggy_model.ToString(), "pre-9fb1b36");
  EXPECT_EQ(spec->reproduce.wakelist.fixed_model.ToString(), "9fb1b36");
  EXPECT_EQ(spec->reproduce.wakelist.threshold_ticks, 0);
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

constexpr char kLostHead[] =
    "name: r\nvcpus: 2\nmemory: 64M\nreproduce:\n  scenario: lost-host-ipi\n";

TEST(LostHostIpiProfileTest, ShippedProfileLoads) {
  absl::StatusOr<ScenarioProfile> spec =
      LoadScenarioProfile("configs/reproduce-lost-host-ipi.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  const ReproduceSpec& r = spec->reproduce;
  EXPECT_EQ(r.scenario, "lost-host-ipi");
  EXPECT_EQ(r.lost_host_ipi.shape, 1);
  EXPECT_EQ(r.lost_host_ipi.mode, hostipi::OrderingMode::kEmulatedPower);
  EXPECT_EQ(r.fixed_operations, 1000000);
  EXPECT_FALSE(r.lost_host_ipi.buggy_model.has_value());  // the shape's default
  EXPECT_FALSE(r.lost_host_ipi.fixed_model.has_value());
}

TEST(LostHostIpiProfileTest, EveryKeyIsRead) {
  absl::StatusOr<ScenarioProfile> spec = LoadScenarioProfileFromString(
      std::string(kLostHead) +
          "  lost_host_ipi: {shape: 2, mode: native, cpus: 3, buggy_model: v5.3, "
          "fixed_model: \"v5.4,demux=peek\", threshold: 5000, pin: 0-1}\n",
      "t.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  const ReproduceSpec& r = spec->reproduce;
  EXPECT_EQ(r.lost_host_ipi.shape, 2);
  EXPECT_EQ(r.lost_host_ipi.mode, hostipi::OrderingMode::kNative);
  EXPECT_EQ(r.lost_host_ipi.cpus, 3);
  ASSERT_TRUE(r.lost_host_ipi.buggy_model.has_value());
  EXPECT_EQ(r.lost_host_ipi.buggy_model->ToString(), "v5.3");
  ASSERT_TRUE(r.lost_host_ipi.fixed_model.has_value());
  EXPECT_EQ(r.lost_host_ipi.fixed_model->ToString(), "v5.4,demux=peek");
  EXPECT_EQ(r.lost_host_ipi.fixed_model->demux, hostipi::DemuxRead::kPeek);
  EXPECT_EQ(r.lost_host_ipi.threshold, 5000);
  EXPECT_EQ(r.lost_host_ipi.pin, (std::vector<int>{0, 1}));
}

TEST(LostHostIpiProfileTest, BadInputNamesFileFieldAndFix) {
  struct Case {
    const char* section;
    const char* expect;
  } cases[] = {
      {"  lost_host_ipi: {shape: 3}",
       "t.yaml:6:26: reproduce.lost_host_ipi.shape: 3 is out of range; use a number from 1 to 2"},
      {"  lost_host_ipi: {mode: tso}", "reproduce.lost_host_ipi.mode: 'tso' is not a mode"},
      {"  lost_host_ipi: {fixed_model: v9}",
       "reproduce.lost_host_ipi.fixed_model: kernel model \"v9\": unknown kernel model preset"},
      {"  lost_host_ipi: {pin: 3-1}", "reproduce.lost_host_ipi.pin: "},
      {"  lost_host_ipi: {threshold: -1}",
       "reproduce.lost_host_ipi.threshold: expected a whole number >= 1"},
      {"  lost_host_ipi: {shpae: 2}",
       "reproduce.lost_host_ipi.shpae: unknown key; did you mean 'shape'?"},
      {"  threshold: 1s\n  lost_host_ipi: {shape: 2}",
       "reproduce.threshold: lost-host-ipi counts its csd threshold in ns"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ErrorOf(std::string(kLostHead) + c.section + "\n"), HasSubstr(c.expect))
        << c.section;
  }
}

}  // namespace
}  // namespace kvmbed
