#include "base/input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace kvmbed {

std::string Excerpt(absl::string_view text, size_t max) {
  if (text.size() <= max) return absl::CEscape(text);
  size_t cut = max;
  // Do not cut a UTF-8 sequence in half.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(absl::CEscape(text.substr(0, cut)), "... (", text.size(), " bytes in all)");
}

std::string FormatByteCap(uint64_t bytes) {
  if (bytes >= (1u << 30) && bytes % (1u << 30) == 0) return absl::StrCat(bytes >> 30, " GiB");
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return absl::StrCat(bytes >> 20, " MiB");
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return absl::StrCat(bytes >> 10, " KiB");
  return absl::StrCat(bytes, " bytes");
}

namespace {

std::string TooBig(const std::string& path, absl::string_view what, uint64_t cap) {
  return absl::StrCat(path, ": the ", what, " is larger than ", FormatByteCap(cap),
                      ", kvmbed's limit for it; give the right file (a regular file, not "
                      "a device or a pipe)");
}

}  // namespace

absl::StatusOr<std::string> ReadFileCapped(const std::string& path, uint64_t max_bytes,
                                           absl::string_view what) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return absl::NotFoundError(absl::StrCat(path, ": cannot read the ", what, ": ",
                                            std::strerror(err), "; check the path"));
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is a directory; give the ", what, " file"));
  }
  std::string text;
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) {
    close(fd);
    return absl::InvalidArgumentError(TooBig(path, what, max_bytes));
  }
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return absl::DataLossError(
          absl::StrCat(path, ": reading the ", what, " failed: ", std::strerror(err)));
    }
    if (n == 0) break;
    if (text.size() + static_cast<uint64_t>(n) > max_bytes) {
      close(fd);
      return absl::InvalidArgumentError(TooBig(path, what, max_bytes));
    }
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return text;
}

absl::StatusOr<LineReader> LineReader::Open(const std::string& path, uint64_t max_line_bytes,
                                            uint64_t max_file_bytes, absl::string_view what) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is a directory; give the ", what, " file"));
  }
  std::FILE* f = std::fopen(path.c_str(), "rbe");
  if (f == nullptr) {
    int err = errno;
    return absl::NotFoundError(absl::StrCat(path, ": cannot open the ", what, ": ",
                                            std::strerror(err), "; check the path"));
  }
  return LineReader(f, path, max_line_bytes, max_file_bytes, std::string(what));
}

LineReader::LineReader(std::FILE* f, std::string path, uint64_t max_line, uint64_t max_file,
                       std::string what)
    : f_(f), path_(std::move(path)), max_line_(max_line), max_file_(max_file),
      what_(std::move(what)) {}

LineReader::LineReader(LineReader&& o) noexcept
    : f_(std::exchange(o.f_, nullptr)), path_(std::move(o.path_)), max_line_(o.max_line_),
      max_file_(o.max_file_), what_(std::move(o.what_)), total_(o.total_),
      line_number_(o.line_number_), newline_(o.newline_), status_(o.status_) {}

LineReader::~LineReader() {
  if (f_ != nullptr) std::fclose(f_);
}

bool LineReader::Next(std::string* line) {
  line->clear();
  newline_ = false;
  if (f_ == nullptr || !status_.ok()) return false;
  bool any = false;
  for (;;) {
    int c = getc_unlocked(f_);
    if (c == EOF) break;
    any = true;
    if (++total_ > max_file_) {
      status_ = absl::InvalidArgumentError(absl::StrCat(
          path_, ": the ", what_, " is larger than ", FormatByteCap(max_file_),
          ", kvmbed's limit for it; give the right file (a regular file, not a device or "
          "a pipe)"));
      return false;
    }
    if (c == '\n') {
      newline_ = true;
      break;
    }
    if (line->size() >= max_line_) {
      status_ = absl::InvalidArgumentError(absl::StrCat(
          path_, ":", line_number_ + 1, ": the line is longer than ", FormatByteCap(max_line_),
          ", kvmbed's limit for one line of the ", what_,
          "; give the right file (each line is one JSON event)"));
      return false;
    }
    line->push_back(static_cast<char>(c));
  }
  if (std::ferror(f_)) {
    status_ = absl::DataLossError(absl::StrCat(path_, ": reading the ", what_, " failed: ",
                                               std::strerror(errno)));
    return false;
  }
  if (!any) return false;
  ++line_number_;
  return true;
}

}  // namespace kvmbed
