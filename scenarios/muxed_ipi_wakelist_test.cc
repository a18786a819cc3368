#include "scenarios/muxed_ipi_wakelist.h"

#include <string>
#include <vector>

#include "configs/profile.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace scenarios {
namespace {

using ::testing::HasSubstr;

// The shipped profile as a 2-CPU host reads it.
absl::StatusOr<ScenarioProfile> Shipped() {
  ProfileOptions popts;
  popts.host_cpus = std::vector<int>{0, 1};
  return LoadScenarioProfile("configs/reproduce-muxed-ipi-wakelist.yaml", popts);
}

TEST(MuxedIpiWakelistTest, OptionsFromTheShippedProfile) {
  absl::StatusOr<ScenarioProfile> p = Shipped();
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<hostipi::WakelistOptions> o = WakelistOptionsFromProfile(*p);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->mode, hostipi::OrderingMode::kEmulatedPower);
  EXPECT_EQ(o->num_cpus, 4);
  EXPECT_EQ(o->seed, 1u);
  EXPECT_EQ(o->buggy_budget, absl::Seconds(30));
  EXPECT_EQ(o->fixed_budget, absl::Seconds(20));
  EXPECT_EQ(o->fixed_wakeups, 1'000'000);
  EXPECT_EQ(o->threshold_ticks, 200'000);
  EXPECT_EQ(o->buggy_model.ToString(), "pre-9fb1b36");
  EXPECT_EQ(o->fixed_model.ToString(), "9fb1b36");

  ScenarioProfile other = *p;
  other.reproduce.scenario = "pvspinlock-kick";
  EXPECT_THAT(std::string(WakelistOptionsFromProfile(other).status().message()),
              HasSubstr("this profile is not for muxed-ipi-wakelist"));
  ScenarioProfile native = *p;
  native.reproduce.wakelist.mode = hostipi::OrderingMode::kNative;
  EXPECT_THAT(std::string(WakelistOptionsFromProfile(native).status().message()),
              HasSubstr("reproduce-muxed-ipi-wakelist.yaml: muxed-ipi-wakelist: "
                        "mode=native cannot show this bug on x86"));
}

// A bad --buggy-model / --fixed-model is refused before anything runs, with
// the parser's words after the field; both scenarios on the model plane.
TEST(MuxedIpiWakelistTest, BadModelFlagsNameTheFieldAndTheFix) {
  absl::StatusOr<ScenarioProfile> p = Shipped();
  ASSERT_TRUE(p.ok()) << p.status();
  ScenarioInput in;
  in.profile = *p;
  in.overrides.buggy_model = "v5.5";
  absl::StatusOr<Reproduction> r = MuxedIpiWakelistScenario().Run(in);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("muxed-ipi-wakelist: buggy_model: kernel model \"v5.5\": unknown kernel "
                        "model preset"));
  in.overrides.buggy_model.reset();
  in.overrides.fixed_model = "9fb1b36,cause-ipi-mb=maybe";
  r = MuxedIpiWakelistScenario().Run(in);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("muxed-ipi-wakelist: fixed_model: kernel model "
                        "\"9fb1b36,cause-ipi-mb=maybe\": site cause-ipi-mb=\"maybe\" is not on/off; "
                        "write cause-ipi-mb=on or cause-ipi-mb=off"));
}

TEST(MuxedIpiWakelistTest, ModelFromFlag) {
  absl::StatusOr<hostipi::KernelModel> m = ModelFromFlag("v5.3,demux=peek", "x: ");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->demux, hostipi::DemuxRead::kPeek);
  EXPECT_EQ(std::string(ModelFromFlag("v5.3,demux=fast", "buggy model: ").status().message()),
            "buggy model: kernel model \"v5.3,demux=fast\": demux=\"fast\" is unknown; write "
            "demux=xchg, demux=xchg-relaxed or demux=peek");
}

TEST(MuxedIpiWakelistTest, RegisteredUnderItsNameAndCommit) {
  EXPECT_EQ(FindScenario("muxed-ipi-wakelist"), &MuxedIpiWakelistScenario());
  EXPECT_EQ(FindScenario("9fb1b36ca1"), &MuxedIpiWakelistScenario());
  EXPECT_EQ(FindScenario("9fb1b36"), &MuxedIpiWakelistScenario());
  EXPECT_EQ(FindScenario("9fb1b3"), nullptr);  // too short to be a commit
}

}  // namespace
}  // namespace scenarios
}  // namespace kvmbed
