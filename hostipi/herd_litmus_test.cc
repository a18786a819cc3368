#include "hostipi/herd_litmus.h"

#include "gtest/gtest.h"
#include "hostipi/power_litmus.h"

namespace kvmbed {
namespace hostipi {
namespace {

// Written for this test in herd's POWER syntax: message passing with lwsync
// on the writer and an address dependency (xor + indexed load) on the
// reader.
constexpr char kMpLwsyncAddr[] = R"(PPC my-mp-lwsync-addr
"a comment line"
{
0:r5=a; 0:r6=b;
1:r5=b; 1:r6=a;
}
 P0           | P1            ;
 li r1,1      | lwz r1,0(r5)  ;
 stw r1,0(r5) | xor r2,r1,r1  ;
 lwsync       | lwzx r3,r2,r6 ;
 li r2,1      |               ;
 stw r2,0(r6) |               ;
exists
(1:r1=1 /\ 1:r3=0)
)";

TEST(HerdLitmus, ConvertsDependenciesAndTheCondition) {
  absl::StatusOr<ParsedLitmus> t = ConvertHerdPowerLitmus(kMpLwsyncAddr);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "my-mp-lwsync-addr");
  ASSERT_EQ(t->program.threads.size(), 2u);
  ASSERT_EQ(t->program.threads[1].size(), 2u);
  EXPECT_EQ(t->program.threads[1][1].addr_deps, std::vector<int>{0});
  absl::StatusOr<ExploredLitmus> x = ExploreLitmus(*t);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_FALSE(x->reachable);
}

TEST(HerdLitmus, WithoutTheDependencyItIsAllowed) {
  std::string text = kMpLwsyncAddr;
  text.replace(text.find("lwzx r3,r2,r6"), 13, "lwz r3,0(r6) ");
  absl::StatusOr<ParsedLitmus> t = ConvertHerdPowerLitmus(text);
  ASSERT_TRUE(t.ok()) << t.status();
  absl::StatusOr<ExploredLitmus> x = ExploreLitmus(*t);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_TRUE(x->reachable);
}

TEST(HerdLitmus, UnsupportedIsNamed) {
  std::string text = kMpLwsyncAddr;
  text.replace(text.find("lwsync "), 7, "eieio  ");
  absl::StatusOr<ParsedLitmus> t = ConvertHerdPowerLitmus(text);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(t.status().message().find("eieio"), std::string::npos);
}

TEST(HerdLitmus, AllowedTable) {
  auto m = ParseHerdAllowed("*x*\n----\nA+b   | Ok   Ok\n------\nC+d | No  No\n");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m["A+b"], Verdict::kAllowed);
  EXPECT_EQ(m["C+d"], Verdict::kForbidden);
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
