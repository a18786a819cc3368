// The bzImage parser on Debian's real kernel and on crafted bad images. No
// KVM needed.
#include "vmm/linux_boot.h"

#include <glob.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kvmbed {
namespace vmm {
namespace {

std::string HostKernel() {
  glob_t g;
  std::string path;
  if (glob("/boot/vmlinuz-*", 0, nullptr, &g) == 0 && g.gl_pathc > 0) path = g.gl_pathv[0];
  globfree(&g);
  return path;
}

// A minimal well-formed header: protocol 2.15, 64-bit, relocatable.
std::vector<uint8_t> Crafted() {
  std::vector<uint8_t> b(8192, 0);
  b[0x1f1] = 4;  // setup_sects
  b[0x1fe] = 0x55;
  b[0x1ff] = 0xaa;
  b[0x201] = 0x6a;  // header ends at 0x26c
  b[0x202] = 'H'; b[0x203] = 'd'; b[0x204] = 'r'; b[0x205] = 'S';
  b[0x206] = 0x0f; b[0x207] = 0x02;
  b[0x211] = 0x01;                 // LOADED_HIGH
  b[0x22c] = 0xff; b[0x22d] = 0xff; b[0x22e] = 0xff; b[0x22f] = 0x7f;
  b[0x232] = 0x20;                 // kernel_alignment 2 MiB
  b[0x234] = 1;                    // relocatable
  b[0x236] = 0x03;                 // XLF_KERNEL_64 | above 4G
  b[0x238] = 0xff; b[0x239] = 0x07;  // cmdline_size 2047
  b[0x25a] = 0x00; b[0x25b] = 0x01;  // pref_address 16 MiB
  b[0x262] = 0x10;                   // init_size 1 MiB
  return b;
}

TEST(LinuxBoot, ParsesDebianKernel) {
  std::string k = HostKernel();
  ASSERT_FALSE(k.empty()) << "no /boot/vmlinuz-*: install linux-image-amd64 (tools/setup.sh)";
  std::vector<uint8_t> image;
  absl::StatusOr<BzImageInfo> info = ReadBzImage(k, &image);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_GE(info->version, kMinBootProtocol);
  EXPECT_TRUE(info->relocatable);
  EXPECT_NE(info->xloadflags & 1, 0);
  EXPECT_GT(info->init_size, info->kernel_size);
  EXPECT_GE(info->cmdline_size, 255u);
  EXPECT_FALSE(info->kernel_version.empty());
  EXPECT_EQ(info->header.size(), 0x202u + image[0x201] - 0x1f1u);
}

TEST(LinuxBoot, AcceptsCraftedHeader) {
  absl::StatusOr<BzImageInfo> info = ParseBzImage("ok.img", Crafted());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->setup_offset, 5u * 512);
  EXPECT_EQ(info->pref_address, 0x1000000u);
}

void ExpectError(const std::vector<uint8_t>& b, const std::string& needle) {
  absl::StatusOr<BzImageInfo> info = ParseBzImage("bad.img", b);
  ASSERT_FALSE(info.ok());
  std::string m(info.status().message());
  EXPECT_NE(m.find("bad.img"), std::string::npos) << m;
  EXPECT_NE(m.find(needle), std::string::npos) << m;
  EXPECT_NE(m.find("bzImage"), std::string::npos) << m;  // says what to give
}

TEST(LinuxBoot, RefusesBadImages) {
  ExpectError(std::vector<uint8_t>(100, 0), "too short");
  std::vector<uint8_t> b = Crafted();
  b[0x202] = 'X';
  ExpectError(b, "HdrS");
  b = Crafted();
  b[0] = 0x7f; b[1] = 'E'; b[2] = 'L'; b[3] = 'F'; b[0x202] = 0;
  ExpectError(b, "ELF");
  b = Crafted();
  b[0x206] = 0x0b;  // 2.11
  ExpectError(b, "needs boot protocol >= 2.12 (64-bit entry");
  b = Crafted();
  b[0x234] = 0;
  ExpectError(b, "not relocatable");
  b = Crafted();
  b[0x236] = 0;
  ExpectError(b, "XLF_KERNEL_64");
  b = Crafted();
  b.resize(5 * 512);
  ExpectError(b, "truncated");
  b = Crafted();
  b[0x1f4] = 0xff; b[0x1f5] = 0xff;  // syssize beyond the file
  ExpectError(b, "truncated");
}

TEST(LinuxBoot, TruncatedRealKernel) {
  std::string k = HostKernel();
  ASSERT_FALSE(k.empty());
  std::vector<uint8_t> image;
  ASSERT_TRUE(ReadBzImage(k, &image).ok());
  image.resize(image.size() / 2);
  ExpectError(image, "truncated");
}

TEST(LinuxBoot, MissingFileNamesIt) {
  std::vector<uint8_t> image;
  absl::StatusOr<BzImageInfo> info = ReadBzImage("/nonexistent/vmlinuz", &image);
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("/nonexistent/vmlinuz"), absl::string_view::npos);
}

TEST(LinuxBoot, EndlessFileStopsAtTheCap) {
  std::vector<uint8_t> image;
  absl::StatusOr<BzImageInfo> info = ReadBzImage("/dev/zero", &image);
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("/dev/zero"), absl::string_view::npos) << info.status();
  EXPECT_NE(info.status().message().find("256 MiB"), absl::string_view::npos) << info.status();
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
