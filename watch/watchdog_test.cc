#include "watch/watchdog.h"

#include "gtest/gtest.h"

namespace kvmbed {
namespace watch {
namespace {

TEST(SoftLockupDetectorTest, ReportsAStuckVcpuOncePerThreshold) {
  SoftLockupDetector d(2, absl::Milliseconds(100));
  absl::Time t = absl::UnixEpoch();
  std::vector<bool> watched = {true, true};
  EXPECT_TRUE(d.Check(t, {1, 1}, watched).empty());
  // vCPU 0 keeps beating, vCPU 1 does not.
  EXPECT_TRUE(d.Check(t + absl::Milliseconds(50), {2, 1}, watched).empty());
  auto r = d.Check(t + absl::Milliseconds(100), {3, 1}, watched);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].vcpu, 1);
  EXPECT_TRUE(r[0].first);
  EXPECT_EQ(r[0].stuck_for, absl::Milliseconds(100));
  EXPECT_EQ(d.Stuck(), std::vector<int>{1});
  EXPECT_TRUE(d.Check(t + absl::Milliseconds(150), {4, 1}, watched).empty());
  r = d.Check(t + absl::Milliseconds(200), {5, 1}, watched);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].first);
  // A beat ends the episode.
  EXPECT_TRUE(d.Check(t + absl::Milliseconds(250), {6, 2}, watched).empty());
  EXPECT_TRUE(d.Stuck().empty());
}

TEST(SoftLockupDetectorTest, UnwatchedVcpusNeverReport) {
  SoftLockupDetector d(1, absl::Milliseconds(10));
  absl::Time t = absl::UnixEpoch();
  EXPECT_TRUE(d.Check(t, {7}, {false}).empty());
  EXPECT_TRUE(d.Check(t + absl::Seconds(5), {7}, {false}).empty());
  // Watching starts the clock afresh.
  EXPECT_TRUE(d.Check(t + absl::Seconds(6), {7}, {true}).empty());
  EXPECT_EQ(d.Check(t + absl::Seconds(7), {7}, {true}).size(), 1u);
}

}  // namespace
}  // namespace watch
}  // namespace kvmbed
