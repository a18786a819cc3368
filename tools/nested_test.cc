// Which commands need KVM (and so run in the nested L1 where there is none),
// and which directories the L1 must be able to write.
#include "tools/nested.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "gtest/gtest.h"
#include "tools/flags.h"

namespace kvmbed {
namespace {

TEST(CommandNeedsKvm, VmCommandsDoModelCommandsDoNot) {
  absl::FlagSaver saver;
  EXPECT_TRUE(CommandNeedsKvm({}));  // the built-in default run
  EXPECT_TRUE(CommandNeedsKvm({"run", "configs/default.yaml"}));
  EXPECT_TRUE(CommandNeedsKvm({"soak", "configs/seed-soak.yaml"}));
  EXPECT_TRUE(CommandNeedsKvm({"bench", "boot"}));
  EXPECT_TRUE(CommandNeedsKvm({"bench", "ipi"}));
  EXPECT_TRUE(CommandNeedsKvm({"bench", "soak-overhead", "configs/seed-soak.yaml"}));
  EXPECT_TRUE(CommandNeedsKvm({"reproduce", "pvspinlock-kick"}));
  EXPECT_TRUE(CommandNeedsKvm({"bench", "reproduce", "offline-csd-flush"}));

  EXPECT_FALSE(CommandNeedsKvm({"reproduce", "lost-host-ipi"}));
  EXPECT_FALSE(CommandNeedsKvm({"reproduce", "--list"}));
  EXPECT_FALSE(CommandNeedsKvm({"bench", "reproduce", "lost-host-ipi"}));
  EXPECT_FALSE(CommandNeedsKvm({"report", "x.jsonl"}));
  EXPECT_FALSE(CommandNeedsKvm({"profile", "check", "configs/default.yaml"}));
  EXPECT_FALSE(CommandNeedsKvm({"bench"}));

  absl::SetFlag(&FLAGS_plane, "kvm");
  EXPECT_TRUE(CommandNeedsKvm({"reproduce", "lost-host-ipi"}));
}

TEST(RunsLinuxGuest, OnlyRunOfALinuxProfileOrWithGuestKernel) {
  absl::FlagSaver saver;
  const std::string tmp = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
  const std::string linux_profile = tmp + "/linux.yaml";
  std::ofstream(linux_profile) << "name: l\nvcpus: 2\nmemory: 512M\nguest:\n  kernel: "
                               << linux_profile << "\n";
  const std::string mini = tmp + "/mini.yaml";
  std::ofstream(mini) << "name: m\nvcpus: 2\n";

  EXPECT_TRUE(RunsLinuxGuest({"run", linux_profile}));
  EXPECT_TRUE(RunsLinuxGuest({"bench", "linux-boot"}));
  EXPECT_TRUE(CommandNeedsKvm({"bench", "linux-boot"}));
  EXPECT_FALSE(RunsLinuxGuest({"bench", "boot"}));
  EXPECT_FALSE(RunsLinuxGuest({"run", mini}));
  EXPECT_FALSE(RunsLinuxGuest({"run"}));  // the built-in default
  EXPECT_FALSE(RunsLinuxGuest({"soak", linux_profile}));
  EXPECT_FALSE(RunsLinuxGuest({"run", tmp + "/absent.yaml"}));
  absl::SetFlag(&FLAGS_guest_kernel, "/boot/vmlinuz");
  EXPECT_TRUE(RunsLinuxGuest({"run", mini}));
}

TEST(NestedWritableDirs, WorkingDirAndOutputDirsOnceEach) {
  absl::FlagSaver saver;
  const std::string tmp = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
  absl::SetFlag(&FLAGS_events, tmp + "/a.jsonl");
  absl::SetFlag(&FLAGS_junit, "rel.xml");  // relative: the working directory
  absl::SetFlag(&FLAGS_output, "/nonexistent-dir/x.html");  // not writable: left out
  std::vector<std::string> dirs = NestedWritableDirs(tmp);
  EXPECT_EQ(dirs, std::vector<std::string>({tmp}));
  dirs = NestedWritableDirs("/");
  EXPECT_EQ(dirs, std::vector<std::string>({tmp})) << "/ itself is never shared writable";
}

}  // namespace
}  // namespace kvmbed
