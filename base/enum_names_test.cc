#include "base/enum_names.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace kvmbed {
namespace {

enum class Colour { kRed, kDarkBlue, kGreen, kUnlisted };

constexpr auto kColours = MakeEnumNames<Colour>({
    {Colour::kRed, "red"},
    {Colour::kDarkBlue, "dark-blue"},
    {Colour::kGreen, "green"},
});

// The table is usable at compile time.
static_assert(kColours.size() == 3, "three entries");
static_assert(kColours.Name(Colour::kDarkBlue)[0] == 'd', "constexpr Name");

TEST(EnumNamesTest, NameOfEveryValueAndOfAnUnlistedOne) {
  EXPECT_STREQ(kColours.Name(Colour::kRed), "red");
  EXPECT_STREQ(kColours.Name(Colour::kDarkBlue), "dark-blue");
  EXPECT_STREQ(kColours.Name(Colour::kGreen), "green");
  EXPECT_STREQ(kColours.Name(Colour::kUnlisted), "?");
  EXPECT_STREQ(kColours.Name(Colour::kUnlisted, "unknown"), "unknown");
}

TEST(EnumNamesTest, ParseIsExactAndRoundTrips) {
  for (const EnumName<Colour>& e : kColours) {
    std::optional<Colour> v = kColours.Parse(e.name);
    ASSERT_TRUE(v.has_value()) << e.name;
    EXPECT_EQ(*v, e.value);
  }
  EXPECT_FALSE(kColours.Parse("Red").has_value());
  EXPECT_FALSE(kColours.Parse("dark_blue").has_value());
  EXPECT_FALSE(kColours.Parse("").has_value());
  EXPECT_FALSE(kColours.Parse("red ").has_value());
}

TEST(EnumNamesTest, ListsForMessages) {
  EXPECT_EQ(kColours.OneOf(), "red, dark-blue or green");
  EXPECT_EQ(kColours.OneOf("\"", "\""), "\"red\", \"dark-blue\" or \"green\"");
  EXPECT_EQ(kColours.Joined("|"), "red|dark-blue|green");
  EXPECT_EQ(kColours.Joined(", ", "c="), "c=red, c=dark-blue, c=green");

  constexpr auto two = MakeEnumNames<Colour>({{Colour::kRed, "red"}, {Colour::kGreen, "green"}});
  EXPECT_EQ(two.OneOf(), "red or green");
  constexpr auto one = MakeEnumNames<Colour>({{Colour::kRed, "red"}});
  EXPECT_EQ(one.OneOf(), "red");
  EXPECT_EQ(one.Joined("|"), "red");
}

TEST(EnumNamesTest, ParseOrNamesTheTextAndTheChoices) {
  absl::StatusOr<Colour> ok = kColours.ParseOr("green", "colour");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, Colour::kGreen);

  absl::StatusOr<Colour> bad = kColours.ParseOr("blue", "colour");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "'blue' is not a colour; use red, dark-blue or green");

  // Control bytes are escaped, long text is cut.
  absl::StatusOr<Colour> ctl = kColours.ParseOr("a\nb", "colour");
  ASSERT_FALSE(ctl.ok());
  EXPECT_EQ(ctl.status().message(), "'a\\nb' is not a colour; use red, dark-blue or green");
  absl::StatusOr<Colour> longer = kColours.ParseOr(std::string(1000, 'x'), "colour");
  ASSERT_FALSE(longer.ok());
  EXPECT_LT(longer.status().message().size(), 200u);
}

TEST(EnumNamesTest, IntegerCodesWithAFallbackName) {
  constexpr auto states = MakeEnumNames<uint32_t>({{0u, "off"}, {2u, "online"}});
  EXPECT_STREQ(states.Name(0), "off");
  EXPECT_STREQ(states.Name(2), "online");
  EXPECT_STREQ(states.Name(1, "invalid"), "invalid");
  EXPECT_EQ(states.Parse("online"), std::optional<uint32_t>(2));
}

}  // namespace
}  // namespace kvmbed
