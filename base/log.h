// A tiny logging wrapper (Debian's Abseil 20220623 has no absl/log).
//
// Thread-safe: each call formats into one string and writes it with a single
// fwrite, so lines from different threads never interleave.
#ifndef KVMBED_BASE_LOG_H_
#define KVMBED_BASE_LOG_H_

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvmbed {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below this level are dropped. Set once at start-up.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Writes one already-formatted line (a '\n' is appended) to stderr.
void LogLine(LogLevel level, const std::string& line);

template <typename... Args>
void Log(LogLevel level, const absl::FormatSpec<Args...>& format,
         const Args&... args) {
  if (level < GetLogLevel()) return;
  LogLine(level, absl::StrFormat(format, args...));
}

}  // namespace kvmbed

#define KLOG(level, ...) ::kvmbed::Log(::kvmbed::LogLevel::k##level, __VA_ARGS__)

#endif  // KVMBED_BASE_LOG_H_
