#include "base/stall_verdict.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace stall {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The shape every lost IPI has: queued, target idle, nothing pending.
WaitEvidence Lost() {
  WaitEvidence e;
  e.request_queued = true;
  return e;
}

TEST(VerdictTest, QueuedWithNothingComingIsLost) {
  Judgement j = Judge(Lost());
  EXPECT_EQ(j.verdict, Verdict::kLost);
  EXPECT_TRUE(j.progress.empty());
  EXPECT_EQ(j.slow_because, "");
  EXPECT_STREQ(VerdictName(j.verdict), "LOST");
}

TEST(VerdictTest, EachWayOfProgressMakesItSlow) {
  struct Case {
    const char* name;
    void (*set)(WaitEvidence&);
    const char* says;
  };
  const Case cases[] = {
      {"pending", [](WaitEvidence& e) { e.interrupt_pending = true; }, "pending"},
      {"in service", [](WaitEvidence& e) { e.interrupt_in_service = true; }, "in service"},
      {"sender", [](WaitEvidence& e) { e.sender_in_flight = 3; }, "CPU#3 queued on the target"},
      {"running it", [](WaitEvidence& e) { e.target_work = TargetWork::kThisRequest; },
       "running this request"},
      {"taken", [](WaitEvidence& e) { e.request_queued = false; }, "no longer queued"},
      {"plane", [](WaitEvidence& e) { e.other_progress = {"it is in host mode"}; },
       "host mode"},
      {"unexamined",
       [](WaitEvidence& e) {
         e.examined = false;
         e.unexamined_why = "no snapshot: timeout";
       },
       "no snapshot"},
  };
  for (const Case& c : cases) {
    WaitEvidence e = Lost();
    c.set(e);
    Judgement j = Judge(e);
    EXPECT_EQ(j.verdict, Verdict::kSlow) << c.name;
    EXPECT_THAT(j.slow_because, HasSubstr(c.says)) << c.name;
    EXPECT_EQ(j.progress.size(), 1u) << c.name;
  }
}

// The flush running another request took the queue before this request
// was added: it will not run it.
TEST(VerdictTest, ATargetBusyWithAnotherRequestStillLosesThisOne) {
  WaitEvidence e = Lost();
  e.target_work = TargetWork::kOtherRequest;
  EXPECT_EQ(Judge(e).verdict, Verdict::kLost);
}

TEST(VerdictTest, AnUnexaminedTargetIsNeverLostAndSaysWhy) {
  WaitEvidence e = Lost();
  e.examined = false;
  Judgement j = Judge(e);
  EXPECT_EQ(j.verdict, Verdict::kSlow);
  EXPECT_EQ(j.slow_because, "the target could not be examined");
}

TEST(VerdictTest, EveryReasonIsListedInOrder) {
  WaitEvidence e = Lost();
  e.interrupt_pending = true;
  e.sender_in_flight = 0;
  e.other_progress = {"a", "b"};
  Judgement j = Judge(e);
  EXPECT_THAT(j.progress,
              ElementsAre("its interrupt is pending on the target",
                          "CPU#0 queued on the target and has not sent its interrupt yet", "a",
                          "b"));
  EXPECT_EQ(j.slow_because,
            "its interrupt is pending on the target; CPU#0 queued on the target and has not "
            "sent its interrupt yet; a; b");
}

}  // namespace
}  // namespace stall
}  // namespace kvmbed
