#include "runner/guest_workload.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace {

TEST(GuestWorkloadTest, ParsesEveryNameBack) {
  for (GuestWorkload w : {GuestWorkload::kIdle, GuestWorkload::kSpin, GuestWorkload::kTorture}) {
    absl::StatusOr<GuestWorkload> parsed = ParseGuestWorkload(GuestWorkloadName(w));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, w);
  }
  EXPECT_STREQ(GuestWorkloadName(GuestWorkload::kTorture), "torture");
}

TEST(GuestWorkloadTest, RefusesOtherNamesListingTheChoices) {
  for (const char* bad : {"stress", "Idle", "", "torture "}) {
    absl::StatusOr<GuestWorkload> w = ParseGuestWorkload(bad);
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_EQ(std::string(w.status().message()),
              absl::StrCat("'", bad, "' is not a workload; use idle, spin or torture"));
  }
  // A long value is quoted as an excerpt, not whole.
  absl::StatusOr<GuestWorkload> w = ParseGuestWorkload(std::string(5000, 'x'));
  ASSERT_FALSE(w.ok());
  EXPECT_LT(w.status().message().size(), 1000u);
}

}  // namespace
}  // namespace kvmbed
