#include "base/reproduction.h"

#include "gtest/gtest.h"

namespace kvmbed {
namespace {

Reproduction Sample() {
  Reproduction r;
  r.name = "demo";
  r.commit = "abc123";
  r.bug = "the bug";
  r.fix = "the fix";
  r.unit = "doorbells";
  r.buggy = {true, "v5.3", true, 1.5, 0.25, 1000, 400, 1, 0, "csd: Detected ...\n"};
  r.fixed = {true, "v5.4", false, 10, 0, 3000000, 0, 0, 2, ""};
  return r;
}

TEST(Reproduction, PassAndBound) {
  Reproduction r = Sample();
  EXPECT_TRUE(r.Pass());
  EXPECT_DOUBLE_EQ(r.PBound(), 1e-6);
  std::string text = RenderReproduction(r);
  EXPECT_NE(text.find("HUNG after 0.250 s and 400 doorbells"), std::string::npos) << text;
  EXPECT_NE(text.find("csd: Detected ..."), std::string::npos);
  EXPECT_NE(text.find("0 hangs in 3000000 doorbells"), std::string::npos) << text;
  EXPECT_NE(text.find("p < 3/N = 1e-06"), std::string::npos) << text;
  EXPECT_NE(text.find("reproduce demo: PASS"), std::string::npos);
  EXPECT_EQ(ReproductionToJson(r)["pass"], true);
}

TEST(Reproduction, FailsWhenBuggyDoesNotHangOrFixedHangs) {
  Reproduction r = Sample();
  r.buggy.hung = false;
  EXPECT_FALSE(r.Pass());
  EXPECT_NE(RenderReproduction(r).find("did NOT hang"), std::string::npos);
  r = Sample();
  r.fixed.hangs = 1;
  EXPECT_FALSE(r.Pass());
  EXPECT_EQ(r.PBound(), 0);
  EXPECT_NE(RenderReproduction(r).find("reproduce demo: FAIL"), std::string::npos);
  r = Sample();
  r.fixed.ran = false;
  EXPECT_FALSE(r.Pass());
}

}  // namespace
}  // namespace kvmbed
