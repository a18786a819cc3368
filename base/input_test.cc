#include "base/input.h"

#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace kvmbed {
namespace {

std::string TempFile(const std::string& name, const std::string& text) {
  std::string path = std::string(testing::TempDir()) + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(ExcerptTest, ShortTextIsQuotedAndEscaped) {
  EXPECT_EQ(Excerpt("a\nb"), "a\\nb");
}

TEST(ExcerptTest, LongTextIsCutWithItsLength) {
  std::string big(10 << 20, 'x');
  std::string e = Excerpt(big);
  EXPECT_LT(e.size(), 128u);
  EXPECT_NE(e.find("(10485760 bytes in all)"), std::string::npos) << e;
}

TEST(ReadFileCappedTest, ReadsASmallFile) {
  std::string p = TempFile("small", "abc");
  absl::StatusOr<std::string> t = ReadFileCapped(p, 10, "profile");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "abc");
}

TEST(ReadFileCappedTest, RefusesARegularFileOverTheCap) {
  std::string p = TempFile("big", std::string(11, 'a'));
  absl::StatusOr<std::string> t = ReadFileCapped(p, 10, "profile");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("larger than 10 bytes"), std::string::npos)
      << t.status();
  EXPECT_NE(t.status().message().find(p), std::string::npos);
}

TEST(ReadFileCappedTest, DevZeroStopsAtTheCap) {
  absl::StatusOr<std::string> t = ReadFileCapped("/dev/zero", 1 << 20, "profile");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("larger than 1 MiB"), std::string::npos) << t.status();
}

TEST(ReadFileCappedTest, DirectoryAndMissingFileAreNamed) {
  EXPECT_NE(ReadFileCapped("/", 10, "profile").status().message().find("directory"),
            std::string::npos);
  EXPECT_FALSE(ReadFileCapped("/nonexistent/x", 10, "profile").ok());
}

TEST(LineReaderTest, ReadsLinesAndNotesTheMissingLastNewline) {
  std::string p = TempFile("lines", "a\n\nbc");
  absl::StatusOr<LineReader> r = LineReader::Open(p, 10, 100, "event log");
  ASSERT_TRUE(r.ok()) << r.status();
  std::string line;
  ASSERT_TRUE(r->Next(&line));
  EXPECT_EQ(line, "a");
  EXPECT_TRUE(r->ended_with_newline());
  ASSERT_TRUE(r->Next(&line));
  EXPECT_EQ(line, "");
  ASSERT_TRUE(r->Next(&line));
  EXPECT_EQ(line, "bc");
  EXPECT_FALSE(r->ended_with_newline());
  EXPECT_EQ(r->line_number(), 3);
  EXPECT_FALSE(r->Next(&line));
  EXPECT_TRUE(r->status().ok());
}

TEST(LineReaderTest, LineCapStopsDevZero) {
  absl::StatusOr<LineReader> r = LineReader::Open("/dev/zero", 4096, 1 << 30, "event log");
  ASSERT_TRUE(r.ok());
  std::string line;
  EXPECT_FALSE(r->Next(&line));
  EXPECT_NE(r->status().message().find("/dev/zero:1: the line is longer than 4 KiB"),
            std::string::npos)
      << r->status();
}

TEST(LineReaderTest, FileCapStopsEndlessShortLines) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "x\n";
  std::string p = TempFile("many", text);
  absl::StatusOr<LineReader> r = LineReader::Open(p, 10, 50, "event log");
  ASSERT_TRUE(r.ok());
  std::string line;
  int n = 0;
  while (r->Next(&line)) ++n;
  EXPECT_EQ(n, 25);
  EXPECT_NE(r->status().message().find("larger than 50 bytes"), std::string::npos)
      << r->status();
}

}  // namespace
}  // namespace kvmbed
