#include <set>
#include <string>

#include "configs/profile.h"
#include "gtest/gtest.h"
#include "scenarios/scenario.h"

namespace kvmbed {
namespace scenarios {
namespace {

TEST(RegistryTest, EveryScenarioIsFoundByNameOrCommitAndItsProfileLoads) {
  const std::vector<const Scenario*>& all = Registry();
  ASSERT_EQ(all.size(), 4u);
  std::set<std::string> names;
  for (const Scenario* s : all) {
    EXPECT_TRUE(names.insert(s->Name()).second) << "two scenarios named " << s->Name();
    EXPECT_EQ(FindScenario(s->Name()), s);
    EXPECT_EQ(FindScenario(s->Commit()), s);
    EXPECT_FALSE(s->Bug().empty()) << s->Name();
    EXPECT_FALSE(s->Fix().empty()) << s->Name();
    ProfileOptions o;
    o.host_cpus = std::vector<int>{0, 1};
    o.fold_cpus = true;
    absl::StatusOr<ScenarioProfile> p = LoadScenarioProfile(s->Profile(), o);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_TRUE(CheckScenarioProfile(*p, s->Name()).ok()) << s->Profile();
  }
  EXPECT_EQ(FindScenario("76eaca031f0af2bb303e405986f637811956a422")->Name(), "pvspinlock-kick");
  EXPECT_EQ(FindScenario("8D056C4")->Name(), "offline-csd-flush");
  EXPECT_EQ(FindScenario("8d056c"), nullptr);  // too short to be a commit
  EXPECT_EQ(FindScenario("no-such-bug"), nullptr);
}

TEST(RegistryTest, OnlyGuestScenariosAndTheKvmPlaneNeedKvm) {
  Overrides none;
  EXPECT_TRUE(FindScenario("pvspinlock-kick")->NeedsKvm(none));
  EXPECT_TRUE(FindScenario("offline-csd-flush")->NeedsKvm(none));
  EXPECT_FALSE(FindScenario("muxed-ipi-wakelist")->NeedsKvm(none));
  EXPECT_FALSE(FindScenario("lost-host-ipi")->NeedsKvm(none));
  Overrides kvm;
  kvm.plane = "kvm";
  EXPECT_TRUE(FindScenario("lost-host-ipi")->NeedsKvm(kvm));
  Overrides model;
  model.plane = "model";
  EXPECT_FALSE(FindScenario("lost-host-ipi")->NeedsKvm(model));
}

TEST(RegistryTest, AnUnknownPlaneIsRefusedListingThePlanes) {
  const Scenario* lost = FindScenario("lost-host-ipi");
  ScenarioInput in;
  in.overrides.plane = "vm";
  EXPECT_FALSE(lost->NeedsKvm(in.overrides));
  ProfileOptions two_cpus;
  two_cpus.host_cpus = std::vector<int>{0, 1};
  ASSERT_TRUE(LoadScenarioProfile(lost->Profile(), two_cpus).ok());
  in.profile = *LoadScenarioProfile(lost->Profile(), two_cpus);
  absl::StatusOr<Reproduction> r = lost->Run(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(std::string(r.status().message()), "--plane: 'vm' is not a plane; use model or kvm");
  EXPECT_STREQ(kPlaneNames.Name(Plane::kKvm), "kvm");
}

TEST(RegistryTest, AProfileForAnotherScenarioIsRefusedNamingTheFile) {
  ScenarioProfile p;
  p.source = "x.yaml";
  p.reproduce.present = true;
  p.reproduce.scenario = "pvspinlock-kick";
  absl::Status s = CheckScenarioProfile(p, "lost-host-ipi");
  EXPECT_NE(std::string(s.message()).find("x.yaml: reproduce.scenario is 'pvspinlock-kick'"),
            std::string::npos)
      << s;
  p.reproduce.present = false;
  EXPECT_NE(std::string(CheckScenarioProfile(p, "lost-host-ipi").message())
                .find("no `reproduce:` section"),
            std::string::npos);
}

}  // namespace
}  // namespace scenarios
}  // namespace kvmbed
