#include "base/log.h"

#include <atomic>

namespace kvmbed {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
constexpr const char* kPrefix[] = {"D ", "", "W ", "E "};
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

void LogLine(LogLevel level, const std::string& line) {
  std::string out = absl::StrCat(kPrefix[static_cast<int>(level)], line, "\n");
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace kvmbed
