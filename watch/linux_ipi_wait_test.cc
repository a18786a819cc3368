#include "watch/linux_ipi_wait.h"

#include <vector>

#include "gtest/gtest.h"

namespace kvmbed {
namespace watch {
namespace {

constexpr int kVcpus = 3;
const absl::Time kT0 = absl::FromUnixSeconds(1000);

IpiWaitOptions Opts() {
  IpiWaitOptions o;
  o.threshold = absl::Seconds(4);
  o.grace = absl::Seconds(1);
  o.owed_after = absl::Seconds(1);
  return o;
}

VcpuIpiSample Waiting() {
  VcpuIpiSample s;
  s.answered = true;
  s.in_ipi_wait = true;
  s.where = "smp_call_function_many_cond+0x2a5";
  return s;
}

VcpuIpiSample Running(bool cf_pending = false) {
  VcpuIpiSample s;
  s.answered = true;
  s.call_function_pending = cf_pending;
  s.where = "native_safe_halt+0xb";
  return s;
}

VcpuIpiSample Withheld() {
  VcpuIpiSample s;
  s.withheld = true;
  return s;
}

// Feeds samples 100 ms apart from `from` for `count` samples; `make(k)` gives
// sample k; returns every verdict.
template <typename F>
std::vector<IpiWaitVerdict> FeedMany(IpiWaitTracker& t, absl::Time from, int count, F make) {
  std::vector<IpiWaitVerdict> all;
  for (int k = 0; k < count; ++k) {
    for (auto& v : t.Feed(from + k * absl::Milliseconds(100), make(k))) all.push_back(v);
  }
  return all;
}

TEST(IpiWaitTracker, WaitOnWithheldVcpuIsOneCsdVerdictNamingIt) {
  IpiWaitTracker t(kVcpus, Opts());
  auto v = FeedMany(t, kT0, 60, [](int) {
    return std::vector<VcpuIpiSample>{Waiting(), Running(), Withheld()};
  });
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, "csd");
  EXPECT_TRUE(v[0].fatal);
  EXPECT_EQ(v[0].waiter, 0);
  EXPECT_EQ(v[0].owed_by.vcpu, 2);
  EXPECT_TRUE(v[0].owed_by.withheld);
  EXPECT_EQ(v[0].owed_by.Why(), "withheld from KVM_RUN");
  EXPECT_NEAR(v[0].waited_s, 4.0, 1e-9);
  EXPECT_EQ(v[0].where, "smp_call_function_many_cond+0x2a5");
}

TEST(IpiWaitTracker, InterruptsTakenWhileWaitingDoNotEndTheWait) {
  IpiWaitTracker t(kVcpus, Opts());
  // Every fifth sample lands in the tick's handler: the wait goes on.
  auto v = FeedMany(t, kT0, 60, [](int k) {
    VcpuIpiSample w = Waiting();
    if (k % 5 == 4) {
      w.in_ipi_wait = false;
      w.where = "asm_sysvec_apic_timer_interrupt+0x16";
    }
    return std::vector<VcpuIpiSample>{w, Running(), Withheld()};
  });
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, "csd");
  EXPECT_EQ(v[0].where, "smp_call_function_many_cond+0x2a5");
}

TEST(IpiWaitTracker, LeavingTheWaitLongerThanGraceRestartsTheClock) {
  IpiWaitTracker t(kVcpus, Opts());
  // 3 s in the wait, 1.5 s out, 3 s in: never 4 s in one wait.
  auto v = FeedMany(t, kT0, 75, [](int k) {
    VcpuIpiSample w = Waiting();
    if (k >= 30 && k < 45) w = Running();
    return std::vector<VcpuIpiSample>{w, Running(), Withheld()};
  });
  EXPECT_TRUE(v.empty());
  // ...and a wait that then lasts 4 s is reported with its own start.
  auto later = FeedMany(t, kT0 + absl::Milliseconds(7500), 20, [](int) {
    return std::vector<VcpuIpiSample>{Waiting(), Running(), Withheld()};
  });
  ASSERT_EQ(later.size(), 1u);
  EXPECT_NEAR(later[0].waited_s, 4.0, 1e-9);
}

TEST(IpiWaitTracker, InFlightIpisAreNotOwed) {
  IpiWaitTracker t(kVcpus, Opts());
  // vCPU 1's call-function vector is pending in every other sample: it
  // takes each one, and new ones keep coming. A long wait, nobody owes.
  auto v = FeedMany(t, kT0, 60, [](int k) {
    return std::vector<VcpuIpiSample>{Waiting(), Running(k % 2 == 0), Running()};
  });
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, "ipi_wait_long");
  EXPECT_FALSE(v[0].fatal);
  EXPECT_EQ(v[0].owed_by.vcpu, -1);
}

TEST(IpiWaitTracker, AVectorPendingInEverySampleIsOwed) {
  IpiWaitTracker t(kVcpus, Opts());
  auto v = FeedMany(t, kT0, 60, [](int) {
    return std::vector<VcpuIpiSample>{Waiting(), Running(), Running(true)};
  });
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, "csd");
  EXPECT_EQ(v[0].owed_by.vcpu, 2);
  EXPECT_FALSE(v[0].owed_by.withheld);
  EXPECT_NEAR(v[0].owed_by.pending_s, 4.0, 1e-9);
  EXPECT_EQ(v[0].owed_by.Why(), "call-function IPI pending for 4.0 s");
}

TEST(IpiWaitTracker, ALongWaitBecomesCsdWhenSomebodyStartsOwing) {
  IpiWaitTracker t(kVcpus, Opts());
  // 5 s of waiting with nobody owing, then vCPU 1 is withheld.
  auto v = FeedMany(t, kT0, 80, [](int k) {
    return std::vector<VcpuIpiSample>{Waiting(), k < 50 ? Running() : Withheld(), Running()};
  });
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].kind, "ipi_wait_long");
  EXPECT_EQ(v[1].kind, "csd");
  EXPECT_EQ(v[1].owed_by.vcpu, 1);
  EXPECT_NEAR(v[1].waited_s, 5.0, 1e-9);
}

TEST(IpiWaitTracker, OwingSkipsTheWaiterAndPrefersWithheldThenLongestPending) {
  IpiWaitTracker t(4, Opts());
  auto v = FeedMany(t, kT0, 30, [](int k) {
    return std::vector<VcpuIpiSample>{Running(true), Running(k >= 10), Running(true), Running()};
  });
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(t.Owing(-1).vcpu, 0);  // pending 2.9 s, as long as vCPU 2's; the first wins
  EXPECT_EQ(t.Owing(0).vcpu, 2);
  EXPECT_EQ(t.Owing(2).vcpu, 0);
  t.Feed(kT0 + absl::Seconds(3), {Running(true), Running(true), Running(true), Withheld()});
  EXPECT_EQ(t.Owing(0).vcpu, 3);
  EXPECT_TRUE(t.Owing(0).withheld);
  EXPECT_EQ(t.Owing(3).vcpu, 0);
  EXPECT_EQ(t.LastWithheld(3), kT0 + absl::Seconds(3));
  EXPECT_EQ(t.LastWithheld(1), absl::InfinitePast());
}

TEST(IpiWaitTracker, UnansweredSamplesNeitherExtendNorEndAnything) {
  IpiWaitTracker t(kVcpus, Opts());
  // vCPU 2's vector is pending, then it stops answering for 2 s (a slow
  // host): it stays pending from its first sighting.
  auto v = FeedMany(t, kT0, 50, [](int k) {
    VcpuIpiSample two = Running(true);
    if (k >= 10 && k < 30) two.answered = false;
    VcpuIpiSample zero = Waiting();
    if (k >= 20 && k < 25) zero.answered = false;  // under the grace: the wait goes on
    return std::vector<VcpuIpiSample>{zero, Running(), two};
  });
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, "csd");
  EXPECT_EQ(v[0].owed_by.vcpu, 2);
}

}  // namespace
}  // namespace watch
}  // namespace kvmbed
