#include "base/event_log.h"

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace kvmbed {
namespace {

std::vector<nlohmann::json> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(EventLog, EveryEventIsOneParsableLine) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/events.jsonl";
  auto log = EventLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) (*log)->Emit("tick", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  (*log)->Emit("console", {{"text", std::string("bad \xff utf8")}});
  EXPECT_EQ((*log)->events(), 1001);
  auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 1001u);
  std::vector<int> next(4, 0);
  for (size_t k = 0; k + 1 < lines.size(); ++k) {
    ASSERT_EQ(lines[k]["type"], "tick");
    int t = lines[k]["thread"];
    EXPECT_EQ(lines[k]["i"], next[t]++);  // per-thread order preserved
  }
  EXPECT_EQ(lines.back()["type"], "console");
  EXPECT_TRUE((*log)->status().ok());
}

TEST(EventLog, FullDiskIsReportedNotFatal) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "/dev/full is not available";
  auto log = EventLog::Open("/dev/full");
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Emit("x");
  (*log)->Emit("y");
  EXPECT_FALSE((*log)->status().ok());
  EXPECT_NE((*log)->status().message().find("/dev/full"), std::string::npos);
  EXPECT_EQ((*log)->events(), 0);
}

TEST(EventLog, OpenFailureNamesThePath) {
  auto log = EventLog::Open("/nonexistent-dir/x.jsonl");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("/nonexistent-dir/x.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace kvmbed
