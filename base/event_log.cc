#include "base/event_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/event_schema.h"

namespace kvmbed {
namespace {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// The symbolic name of the errno values a log write may meet.
const char* ErrnoName(int e) {
  switch (e) {
    case ENOSPC: return "ENOSPC";
    case EFBIG: return "EFBIG";
    case EDQUOT: return "EDQUOT";
    case EIO: return "EIO";
    case EROFS: return "EROFS";
    case EBADF: return "EBADF";
    case EPIPE: return "EPIPE";
    case EAGAIN: return "EAGAIN";
    case ENOLCK: return "ENOLCK";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    default: return "errno";
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Open(const std::string& path,
                                                         Check check) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open event log ", path));
  }
  return std::unique_ptr<EventLog>(new EventLog(fd, path, check));
}

std::unique_ptr<EventLog> EventLog::Null() {
  return std::unique_ptr<EventLog>(new EventLog(-1, "", Check::kNone));
}

EventLog::EventLog(int fd, std::string path, Check check)
    : fd_(fd), check_(check), path_(std::move(path)), start_ns_(MonotonicNs()) {}

void EventLog::CheckLine(const nlohmann::json& line) {
  if (check_ == Check::kNone) return;
  const absl::Status s = CheckEvent(line, Strictness::kStrict);
  if (s.ok()) return;
  const char* strict = std::getenv("KVMBED_STRICT_EVENTS");
  if (strict != nullptr && std::string(strict) == "1") {
    std::fprintf(stderr, "kvmbed: event log %s: %s (KVMBED_STRICT_EVENTS=1: aborting)\n",
                 path_.c_str(), std::string(s.message()).c_str());
    std::abort();
  }
  absl::MutexLock lock(&mu_);
  if (warned_) return;
  warned_ = true;
  std::fprintf(stderr,
               "kvmbed: event log %s: %s; the line was kept, but this is a kvmbed bug "
               "(docs/events.md lists the schema)\n",
               path_.c_str(), std::string(s.message()).c_str());
}

EventLog::~EventLog() {
  if (fd_ >= 0) close(fd_);
}

void EventLog::Emit(const std::string& type, nlohmann::json fields) {
  if (fd_ < 0) return;
  nlohmann::json line = nlohmann::json::object();
  line["t"] = static_cast<double>(MonotonicNs() - start_ns_) / 1e9;
  line["type"] = type;
  if (fields.is_object()) {
    for (auto& [k, v] : fields.items()) line[k] = std::move(v);
  }
  CheckLine(line);
  // Invalid UTF-8 from a guest console must not throw: replace it.
  std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  absl::MutexLock lock(&mu_);
  if (!status_.ok()) return;
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // write() returning 0 for a non-empty buffer: treat as a full disk.
      const int err = n < 0 ? errno : ENOSPC;
      std::string msg = absl::StrCat("writing event log ", path_, ": ", std::strerror(err), " (",
                                     ErrnoName(err), ", errno ", err, ") after ", events_,
                                     " events");
      if (done > 0) {
        // Cut the partial line so the log ends with a complete event.
        if (ftruncate(fd_, bytes_) == 0) {
          absl::StrAppend(&msg, "; the partial last line was cut off, the log ends with the "
                                "last complete event");
        } else {
          absl::StrAppend(&msg, "; cutting the partial last line failed too (",
                          std::strerror(errno), "): the last line is incomplete");
        }
      }
      status_ = absl::Status(absl::ErrnoToStatusCode(err), msg);
      return;
    }
    done += static_cast<size_t>(n);
  }
  bytes_ += static_cast<int64_t>(done);
  ++events_;
}

absl::Status EventLog::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

int64_t EventLog::events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

}  // namespace kvmbed
