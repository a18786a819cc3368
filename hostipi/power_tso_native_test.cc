// The suite's x86-TSO verdicts against this machine (native mode: real
// threads, lwsync as no fence, sync as mfence, dependencies as program
// order). A TSO-forbidden outcome must never show; SB must show.
#include <cstdio>

#include "gtest/gtest.h"
#include "hostipi/litmus.h"
#include "hostipi/power_litmus.h"

namespace kvmbed {
namespace hostipi {
namespace {

TEST(PowerSuiteOnTso, ForbiddenNeverShowsAndSbDoes) {
  int ran = 0;
  for (const SuiteEntry& e : LitmusSuite()) {
    if (e.tso == Verdict::kUnknown) continue;
    absl::StatusOr<ParsedLitmus> t = ParseLitmus(e.text);
    ASSERT_TRUE(t.ok()) << t.status();
    if (t->program.threads.size() != 2) continue;
    absl::StatusOr<LitmusTest> lt = ToSampledTest(*t);
    ASSERT_TRUE(lt.ok()) << lt.status();
    LitmusOptions o;
    o.run.mode = OrderingMode::kNative;
    o.run.pin_cpus = {0, 1};
    o.iterations = 20000;
    o.time_budget = absl::Seconds(2);
    o.stop_after_interesting = 20;
    // SB is the one shape that must show. Both threads have to overlap
    // inside one round for it to, which a loaded or instrumented (ASan)
    // build makes rare, so SB gets up to ten times the rounds; it stops
    // at the first sighting.
    const bool must_show = t->name == "SB";
    if (must_show) {
      o.iterations = 200000;
      o.time_budget = absl::Seconds(20);
      o.stop_after_interesting = 1;
    }
    absl::StatusOr<LitmusResult> r = RunLitmus(*lt, o);
    ASSERT_TRUE(r.ok()) << r.status();
    ++ran;
    std::printf("%-22s tso=%-9s seen %lld / %lld\n", t->name.c_str(), VerdictName(e.tso),
                static_cast<long long>(r->interesting), static_cast<long long>(r->iterations));
    if (e.tso == Verdict::kForbidden) {
      EXPECT_EQ(r->interesting, 0) << t->name << " is forbidden on x86-TSO";
    }
    if (must_show) {
      EXPECT_GT(r->interesting, 0) << "SB without fences shows on x86 (store buffer); "
                                   << r->iterations << " rounds ran";
    }
  }
  EXPECT_GT(ran, 40);
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
