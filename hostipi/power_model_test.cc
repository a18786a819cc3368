#include "hostipi/power_model.h"

#include <cstdio>

#include "gtest/gtest.h"
#include "hostipi/power_litmus.h"

namespace kvmbed {
namespace hostipi {
namespace {

TEST(PowerSuite, EveryVerdictHolds) {
  for (const SuiteEntry& e : LitmusSuite()) {
    absl::StatusOr<ParsedLitmus> t = ParseLitmus(e.text);
    ASSERT_TRUE(t.ok()) << t.status();
    absl::StatusOr<ExploredLitmus> r = ExploreLitmus(*t);
    ASSERT_TRUE(r.ok()) << r.status();
    std::printf("%-28s power=%-9s explorer=%-9s states=%lld finals=%zu %.3fs\n", t->name.c_str(),
                VerdictName(e.power), r->reachable ? "allowed" : "forbidden",
                static_cast<long long>(r->result.states), r->result.outcomes.size(),
                absl::ToDoubleSeconds(r->result.wall_time));
    EXPECT_EQ(r->reachable, e.power == Verdict::kAllowed) << t->name;
  }
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
