#include "tools/flags.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/common.h"

namespace kvmbed {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ErrorOf(const std::vector<std::string>& args) {
  absl::StatusOr<std::vector<std::string>> r = ParseFlags(args);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(ParseFlagsTest, FormsDashesAndArguments) {
  absl::StatusOr<std::vector<std::string>> r =
      ParseFlags({"soak", "--fold-cpus", "p.yaml", "--scale", "0.5", "--duration=20h",
                  "--nohost-stress", "--list", "--", "--not-a-flag"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre("soak", "p.yaml", "--list", "--not-a-flag"));
  EXPECT_TRUE(absl::GetFlag(FLAGS_fold_cpus));
  EXPECT_EQ(absl::GetFlag(FLAGS_scale), 0.5);
  EXPECT_EQ(absl::GetFlag(FLAGS_duration), absl::Hours(20));
  EXPECT_FALSE(absl::GetFlag(FLAGS_host_stress));
  EXPECT_TRUE(FlagGiven("host_stress"));
  EXPECT_TRUE(FlagGiven("fold_cpus"));
}

TEST(ParseFlagsTest, BadFlagsAreErrorsNamingTheFlag) {
  EXPECT_THAT(ErrorOf({"--frob"}), HasSubstr("unknown flag --frob"));
  EXPECT_THAT(ErrorOf({"run", "--duration"}), HasSubstr("--duration needs a value"));
  EXPECT_THAT(ErrorOf({"--events", "--duration=1s"}), HasSubstr("--events needs a value"));
  EXPECT_THAT(ErrorOf({"--duration=10"}), HasSubstr("--duration=10: not a duration with a unit"));
  EXPECT_THAT(ErrorOf({"--duration=inf"}), HasSubstr("give a finite duration"));
  EXPECT_THAT(ErrorOf({"--csd-timeout=-1s"}), HasSubstr("must not be negative"));
  EXPECT_THAT(ErrorOf({"--scale=inf"}), HasSubstr("give a finite number"));
  EXPECT_THAT(ErrorOf({"--vcpus=9999999999"}), HasSubstr("not a whole number"));
  // absl's own flags are not part of kvmbed's command line.
  EXPECT_THAT(ErrorOf({"--flagfile=/etc/passwd"}), HasSubstr("unknown flag"));
  // A huge value is quoted as an excerpt.
  EXPECT_LT(ErrorOf({"--duration=" + std::string(1 << 20, '9')}).size(), 400u);
}

TEST(OnlyFlagsTest, RefusesGivenFlagsByName) {
  ASSERT_TRUE(ParseFlags({"--mode=native", "--json", "--verbose"}).ok());
  EXPECT_TRUE(OnlyFlags("x", {"mode", "json"}).ok());
  absl::Status s = OnlyFlags("reproduce muxed-ipi-wakelist", {"json", "cpus"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("--mode does not apply to reproduce muxed-ipi-wakelist; remove it "
                        "(it takes --json, --cpus)"));
}

TEST(SameFileTest, ByInodeAndByPath) {
  std::string dir = testing::TempDir();
  std::string a = dir + "/same_a";
  std::ofstream(a) << "x";
  EXPECT_TRUE(SameFile(a, a));
  EXPECT_TRUE(SameFile(a, dir + "/./same_a"));
  EXPECT_FALSE(SameFile(a, dir + "/same_b"));
  EXPECT_TRUE(SameFile(dir + "/none/x", dir + "/none/../none/x"));
}

}  // namespace
}  // namespace kvmbed
