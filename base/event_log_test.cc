#include "base/event_log.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
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
  auto log = EventLog::Open(path, EventLog::Check::kNone);
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
  auto log = EventLog::Open("/dev/full", EventLog::Check::kNone);
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Emit("x");
  (*log)->Emit("y");
  EXPECT_FALSE((*log)->status().ok());
  EXPECT_NE((*log)->status().message().find("/dev/full"), std::string::npos);
  EXPECT_NE((*log)->status().message().find("ENOSPC"), std::string::npos)
      << (*log)->status();
  EXPECT_EQ((*log)->events(), 0);
}

// A log that fills up mid-run: RLIMIT_FSIZE makes write() stop part-way
// through a line (a short write) and then fail with EFBIG, as a full disk
// does with ENOSPC. The log must keep every earlier event intact and end
// with a complete line.
TEST(EventLog, FileSizeLimitMidRunKeepsWholeLines) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/limited.jsonl";
  auto log = EventLog::Open(path, EventLog::Check::kNone);
  ASSERT_TRUE(log.ok()) << log.status();
  struct sigaction ign = {}, old_sa = {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ign, &old_sa), 0);
  rlimit old_lim;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
  constexpr rlim_t kLimit = 4000;  // not a multiple of the line length
  rlimit lim = old_lim;
  lim.rlim_cur = kLimit;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  const std::string pad(90, 'p');
  int emitted = 0;
  for (; emitted < 200 && (*log)->status().ok(); ++emitted) {
    (*log)->Emit("tick", {{"i", emitted}, {"pad", pad}});
  }
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old_lim), 0);  // before anything else writes
  sigaction(SIGXFSZ, &old_sa, nullptr);

  absl::Status st = (*log)->status();
  ASSERT_FALSE(st.ok()) << "200 events of ~120 bytes never hit a 4000-byte limit";
  EXPECT_NE(st.message().find(path), std::string::npos) << st;
  EXPECT_NE(st.message().find("EFBIG"), std::string::npos) << st;
  EXPECT_NE(st.message().find("cut off"), std::string::npos) << st;
  // Later events are dropped, not written past the cut.
  (*log)->Emit("after");
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  EXPECT_LE(text.size(), kLimit);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "the log must end with a complete line";
  auto lines = ReadLines(path);  // throws on a partial line
  ASSERT_EQ(static_cast<int64_t>(lines.size()), (*log)->events());
  for (size_t k = 0; k < lines.size(); ++k) EXPECT_EQ(lines[k]["i"], static_cast<int>(k));
  // The limit cut the (k+1)-th event: some made it, the one that failed did not.
  EXPECT_GT(lines.size(), 10u);
  EXPECT_EQ(static_cast<int>(lines.size()), emitted - 1);
}

TEST(EventLog, OpenFailureNamesThePath) {
  auto log = EventLog::Open("/nonexistent-dir/x.jsonl", EventLog::Check::kNone);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("/nonexistent-dir/x.jsonl"), std::string::npos);
}

// The transport tests above open their logs unchecked; a real log holds
// every line to the schema.
TEST(EventLog, AnOffSchemaLineIsKeptAndNamedOnce) {
  unsetenv("KVMBED_STRICT_EVENTS");
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/schema.jsonl";
  auto log = EventLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  testing::internal::CaptureStderr();
  (*log)->Emit("vm_online", {{"vm", "a"}, {"boot_ms", 3}});
  (*log)->Emit("vm_online", {{"vm", "a"}});                    // boot_ms missing
  (*log)->Emit("vm_online", {{"vm", "a"}, {"boot_s", 3}});     // and again
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("vm_online: field boot_ms is missing"), std::string::npos) << err;
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_EQ(err.find("boot_s"), std::string::npos) << "warned twice: " << err;
  EXPECT_EQ(ReadLines(path).size(), 3u);
  EXPECT_TRUE((*log)->status().ok());
}

TEST(EventLogDeathTest, StrictModeAbortsOnAnOffSchemaLine) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/strict.jsonl";
  EXPECT_DEATH(
      {
        setenv("KVMBED_STRICT_EVENTS", "1", 1);
        auto log = EventLog::Open(path);
        (*log)->Emit("status", {{"vms_online", 1}});
      },
      "status: field .* is missing .*KVMBED_STRICT_EVENTS=1: aborting");
}

}  // namespace
}  // namespace kvmbed
