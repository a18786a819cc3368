#include "base/cpuset.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int> MustParse(const std::string& text) {
  absl::StatusOr<std::vector<int>> cpus = ParseCpuset(text);
  EXPECT_TRUE(cpus.ok()) << text << ": " << cpus.status();
  return cpus.ok() ? *cpus : std::vector<int>{};
}

CpusetError MustFail(const std::string& text) {
  std::vector<int> cpus;
  CpusetError error;
  EXPECT_FALSE(ParseCpuset(text, &cpus, &error)) << text;
  return error;
}

TEST(CpusetTest, ParsesLibvirtForms) {
  EXPECT_THAT(MustParse("0-3"), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(MustParse("1-4,^3,6"), ElementsAre(1, 2, 4, 6));
  EXPECT_THAT(MustParse("0-3,^2"), ElementsAre(0, 1, 3));
  EXPECT_THAT(MustParse("5"), ElementsAre(5));
  EXPECT_THAT(MustParse("0"), ElementsAre(0));
  EXPECT_THAT(MustParse("7,3,3,0-1"), ElementsAre(0, 1, 3, 7));
  EXPECT_THAT(MustParse("8191"), ElementsAre(8191));
}

TEST(CpusetTest, ToleratesBlanksLikeLibvirt) {
  EXPECT_THAT(MustParse("  0 - 3 , ^2 ,6  "), ElementsAre(0, 1, 3, 6));
  EXPECT_THAT(MustParse("\t1,\n2"), ElementsAre(1, 2));
}

TEST(CpusetTest, ExclusionsApplyLeftToRight) {
  // Re-including after an exclusion brings the CPU back, as in libvirt.
  EXPECT_THAT(MustParse("0-3,^2,2"), ElementsAre(0, 1, 2, 3));
}

TEST(CpusetTest, ReversedRange) {
  CpusetError e = MustFail("0,4-1");
  EXPECT_EQ(e.column, 3);
  EXPECT_THAT(e.message, HasSubstr("reversed range 4-1"));
  EXPECT_THAT(e.message, HasSubstr("1-4"));
}

TEST(CpusetTest, ExclusionOnly) {
  CpusetError e = MustFail("^3");
  EXPECT_EQ(e.column, 1);
  EXPECT_THAT(e.message, HasSubstr("only excludes"));
  EXPECT_THAT(MustFail("^1,^2").message, HasSubstr("only excludes"));
}

TEST(CpusetTest, ExclusionBeforeInclusionIsAnOrderingError) {
  CpusetError e = MustFail("^3,0-7");
  EXPECT_EQ(e.column, 1);
  EXPECT_THAT(e.message, HasSubstr("no earlier element includes"));
  EXPECT_THAT(MustFail("0-3,^9").message, HasSubstr("^9 excludes CPU 9"));
}

TEST(CpusetTest, EmptyResult) {
  CpusetError e = MustFail("2,^2");
  EXPECT_THAT(e.message, HasSubstr("empty after its exclusions"));
}

TEST(CpusetTest, EmptyText) {
  EXPECT_THAT(MustFail("").message, HasSubstr("the cpuset is empty"));
  EXPECT_THAT(MustFail("   ").message, HasSubstr("the cpuset is empty"));
}

TEST(CpusetTest, EmptyElements) {
  CpusetError e = MustFail("0,,1");
  EXPECT_EQ(e.column, 3);
  EXPECT_THAT(e.message, HasSubstr("empty element"));
  EXPECT_EQ(MustFail("0,").column, 3);
  EXPECT_EQ(MustFail(",0").column, 1);
}

TEST(CpusetTest, Garbage) {
  CpusetError e = MustFail("0-3,x");
  EXPECT_EQ(e.column, 5);
  EXPECT_THAT(e.message, HasSubstr("expected a CPU number, found 'x'"));
  e = MustFail("0-3 4");
  EXPECT_EQ(e.column, 5);
  EXPECT_THAT(e.message, HasSubstr("separate elements with ','"));
  EXPECT_EQ(MustFail("1.5").column, 2);
  EXPECT_THAT(MustFail("0;1").message, HasSubstr("';'"));
  EXPECT_THAT(MustFail("0x3").message, HasSubstr("'x'"));
}

TEST(CpusetTest, CaretMustPrecedeANumber) {
  EXPECT_THAT(MustFail("0-3,^ 2").message, HasSubstr("'^' must be followed"));
  CpusetError e = MustFail("0-7,^2-3");
  EXPECT_EQ(e.column, 5);
  EXPECT_THAT(e.message, HasSubstr("an exclusion names a single CPU"));
}

TEST(CpusetTest, OpenRange) {
  EXPECT_THAT(MustFail("2-").message, HasSubstr("has no end"));
  EXPECT_THAT(MustFail("2-,3").message, HasSubstr("has no end"));
}

TEST(CpusetTest, NegativeNumbers) {
  CpusetError e = MustFail("0,-1");
  EXPECT_EQ(e.column, 3);
  EXPECT_THAT(e.message, HasSubstr("negative CPU number"));
  EXPECT_THAT(MustFail("3--1").message, HasSubstr("has no end"));
}

TEST(CpusetTest, HugeNumbers) {
  CpusetError e = MustFail("0-8192");
  EXPECT_EQ(e.column, 3);
  EXPECT_THAT(e.message, HasSubstr("CPU number 8192 is too large"));
  EXPECT_THAT(MustFail("99999999999999999999999").message,
              HasSubstr("too large"));
}

TEST(CpusetTest, StatusMessageNamesTextAndColumn) {
  absl::StatusOr<std::vector<int>> r = ParseCpuset("0-3,^9");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("cpuset \"0-3,^9\": column 5: ^9 excludes"));
}

TEST(CpusetTest, FormatsCanonically) {
  EXPECT_EQ(FormatCpuset({0, 1, 2, 3, 6}), "0-3,6");
  EXPECT_EQ(FormatCpuset({6, 3, 2, 1, 0, 3}), "0-3,6");
  EXPECT_EQ(FormatCpuset({0, 1}), "0-1");
  EXPECT_EQ(FormatCpuset({5}), "5");
  EXPECT_EQ(FormatCpuset({0, 2, 4}), "0,2,4");
  EXPECT_EQ(FormatCpuset({}), "");
}

TEST(CpusetTest, FormatThenParseRoundTrips) {
  for (const char* text : {"0-3,6", "1-4,^3,6", "0,2-9,^5,100-101"}) {
    std::vector<int> cpus = MustParse(text);
    EXPECT_EQ(MustParse(FormatCpuset(cpus)), cpus) << text;
  }
}

// Random text never crashes the parser; errors always carry a column inside
// the text (or just past its end), successes a sorted non-empty list.
TEST(CpusetTest, RandomTextGivesAResultOrALocatedError) {
  std::mt19937 rng(12345);
  const std::string alphabet = "0123456789-^, x\t";
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 12, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    std::vector<int> cpus;
    CpusetError error;
    if (ParseCpuset(text, &cpus, &error)) {
      ASSERT_FALSE(cpus.empty()) << text;
      ASSERT_TRUE(std::is_sorted(cpus.begin(), cpus.end())) << text;
      ASSERT_EQ(std::adjacent_find(cpus.begin(), cpus.end()), cpus.end());
    } else {
      ASSERT_GE(error.column, 1) << text;
      ASSERT_LE(error.column, static_cast<int>(text.size()) + 1) << text;
      ASSERT_NE(error.message.find("; "), std::string::npos)
          << "no fix in: " << error.message;
    }
  }
}

}  // namespace
}  // namespace kvmbed
