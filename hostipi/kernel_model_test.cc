#include "hostipi/kernel_model.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace hostipi {
namespace {

using ::testing::HasSubstr;

TEST(KernelModelTest, PresetsHaveTheSeedFixes) {
  absl::StatusOr<KernelModel> v53 = KernelModel::Parse("v5.3");
  ASSERT_TRUE(v53.ok()) << v53.status();
  EXPECT_FALSE(v53->mb_before_set);
  EXPECT_FALSE(v53->mb_after_clear);
  EXPECT_EQ(v53->demux, DemuxRead::kXchg);
  EXPECT_TRUE(v53->message_pass_mb);

  absl::StatusOr<KernelModel> v54 = KernelModel::Parse("v5.4");
  ASSERT_TRUE(v54.ok()) << v54.status();
  EXPECT_TRUE(v54->mb_before_set);
  EXPECT_TRUE(v54->mb_after_clear);
  EXPECT_EQ(v54->demux, DemuxRead::kXchg);
  EXPECT_TRUE(v54->message_pass_mb);

  absl::StatusOr<KernelModel> old = KernelModel::Parse("pre-9fb1b36");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_FALSE(old->message_pass_mb);
  EXPECT_EQ(old->demux, DemuxRead::kXchgRelaxed);
}

TEST(KernelModelTest, OverridesApplyEachSiteOnItsOwn) {
  absl::StatusOr<KernelModel> m =
      KernelModel::Parse("v5.3, mb-after-clear=on,demux=peek");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(m->mb_before_set);
  EXPECT_TRUE(m->mb_after_clear);
  EXPECT_EQ(m->demux, DemuxRead::kPeek);
  EXPECT_TRUE(m->message_pass_mb);
  EXPECT_EQ(m->preset, "v5.3");

  m = KernelModel::Parse(
      "v5.4,mb-before-set=off,message-pass-mb=off,"
      "demux=xchg-relaxed");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(m->mb_before_set);
  EXPECT_TRUE(m->mb_after_clear);
  EXPECT_EQ(m->demux, DemuxRead::kXchgRelaxed);
  EXPECT_FALSE(m->message_pass_mb);
}

TEST(KernelModelTest, ToStringRoundTripsAndListsOnlyOverrides) {
  for (const char* text :
       {"v5.3", "v5.4", "pre-9fb1b36", "v5.4,mb-after-clear=off,demux=peek",
        "v5.3,demux=peek", "v5.3,mb-before-set=on,message-pass-mb=off"}) {
    absl::StatusOr<KernelModel> m = KernelModel::Parse(text);
    ASSERT_TRUE(m.ok()) << text << ": " << m.status();
    EXPECT_EQ(m->ToString(), text);
    absl::StatusOr<KernelModel> again = KernelModel::Parse(m->ToString());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *m);
  }
  // An override equal to the preset is dropped from the canonical form.
  absl::StatusOr<KernelModel> m = KernelModel::Parse("v5.4,demux=xchg");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->ToString(), "v5.4");
  EXPECT_EQ(m->Describe(),
            "mb-before-set=on mb-after-clear=on demux=xchg message-pass-mb=on");
}

TEST(KernelModelTest, BadInputGivesClearErrors) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"", "must start with a preset"},
      {"demux=peek", "must start with a preset"},
      {"v5.5", "unknown kernel model preset \"v5.5\""},
      {"v5.5", "v5.3, v5.4"},
      {"v5.3,demux=fast", "demux=\"fast\" is unknown"},
      {"v5.3,mb-after-clear=yes", "is not on/off"},
      {"v5.3,mb-after-clear", "is not site=value"},
      {"v5.3,mb-after-clear=", "is not site=value"},
      {"v5.3,barrier=on", "unknown site \"barrier\""},
      {"v5.3,demux=peek,demux=xchg", "given twice"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<KernelModel> m = KernelModel::Parse(c.text);
    ASSERT_FALSE(m.ok()) << "accepted \"" << c.text << "\"";
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(m.status().message()), HasSubstr(c.expect))
        << c.text;
  }
}


// The messages list the accepted values from the name tables, word for word.
TEST(KernelModelTest, BadValueMessagesListTheChoices) {
  EXPECT_EQ(KernelModel::Parse("v5.3,demux=fast").status().message(),
            "kernel model \"v5.3,demux=fast\": demux=\"fast\" is unknown; write demux=xchg, "
            "demux=xchg-relaxed or demux=peek");
  EXPECT_EQ(KernelModel::Parse("v5.3,mb-after-clear=yes").status().message(),
            "kernel model \"v5.3,mb-after-clear=yes\": site mb-after-clear=\"yes\" is not "
            "on/off; write mb-after-clear=on or mb-after-clear=off");
  EXPECT_EQ(KernelModel::Parse("v5.3,barrier=on").status().message(),
            "kernel model \"v5.3,barrier=on\": unknown site \"barrier\"; sites: "
            "mb-before-set=on|off, mb-after-clear=on|off, demux=xchg|xchg-relaxed|peek, "
            "message-pass-mb=on|off, cause-ipi-mb=on|off");
  EXPECT_EQ(DemuxReadName(DemuxRead::kXchgRelaxed), std::string("xchg-relaxed"));
}

TEST(KernelModelTest, KnownParsesBuiltInStrings) {
  EXPECT_EQ(KernelModel::Known("v5.4,demux=peek").ToString(), "v5.4,demux=peek");
  EXPECT_EQ(KernelModel::Known("pre-9fb1b36"), *KernelModel::Preset("pre-9fb1b36"));
  EXPECT_DEATH(KernelModel::Known("v9"), "built-in kernel model: kernel model \"v9\"");
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
