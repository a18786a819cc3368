// Bounded reading of user input: every file kvmbed reads (profiles, libvirt
// domain XML, event logs) is read with a size cap, so a wrong path such as
// /dev/zero, a FIFO or a runaway file ends with a clear error instead of
// reading forever, and error messages quote a bounded excerpt of a bad value.
//
// Thread-safe: free functions; a LineReader is used from one thread.
#ifndef KVMBED_BASE_INPUT_H_
#define KVMBED_BASE_INPUT_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmbed {

// How much of a bad value an error message quotes.
inline constexpr size_t kExcerptBytes = 64;

// `text` C-escaped (newlines and control bytes become \n, \001, ...) and, when
// longer than `max` bytes, cut with a note of its full length:
//   aaaa...aaa... (10485760 bytes in all)
// Never longer than about max*4 + 32 bytes, whatever `text` is.
std::string Excerpt(absl::string_view text, size_t max = kExcerptBytes);

// "4 MiB" / "512 KiB" / "123 bytes", for messages about caps.
std::string FormatByteCap(uint64_t bytes);

// Reads the whole file at `path` (`what` names it in errors, e.g. "profile")
// and fails once more than `max_bytes` were read: a non-regular file such as
// /dev/zero stops at the cap. Errors name the path, the cap and the fix.
absl::StatusOr<std::string> ReadFileCapped(const std::string& path, uint64_t max_bytes,
                                           absl::string_view what);

// Reads a text file line by line with a cap per line and on the whole file
// (streaming: memory stays O(max_line_bytes)). Lines end at '\n', which is
// not returned; the last line may lack it.
class LineReader {
 public:
  // Opens `path`; `what` names the file in errors ("event log").
  static absl::StatusOr<LineReader> Open(const std::string& path, uint64_t max_line_bytes,
                                         uint64_t max_file_bytes, absl::string_view what);
  LineReader(LineReader&& other) noexcept;
  LineReader& operator=(LineReader&&) = delete;
  LineReader(const LineReader&) = delete;
  ~LineReader();

  // Reads the next line into `line`. Returns false at the end of the file or
  // on an error (then status() says which: a cap exceeded or a read error).
  bool Next(std::string* line);
  // True when the line Next() returned last ended with '\n'.
  bool ended_with_newline() const { return newline_; }
  absl::Status status() const { return status_; }
  // 1-based number of the line Next() returned last.
  int64_t line_number() const { return line_number_; }

 private:
  LineReader(std::FILE* f, std::string path, uint64_t max_line, uint64_t max_file,
             std::string what);
  std::FILE* f_;
  std::string path_;
  uint64_t max_line_, max_file_;
  std::string what_;
  uint64_t total_ = 0;
  int64_t line_number_ = 0;
  bool newline_ = false;
  absl::Status status_;
};

}  // namespace kvmbed

#endif  // KVMBED_BASE_INPUT_H_
