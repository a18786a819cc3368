// A JSON-lines event log: one JSON object per line, written with a single
// write(2) per event so a crash or `kill -9` loses at most the event being
// written, never an earlier one.
//
// Threading: Emit() is thread-safe; events from different threads never
// interleave within a line.
#ifndef KVMBED_BASE_EVENT_LOG_H_
#define KVMBED_BASE_EVENT_LOG_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

namespace kvmbed {

class EventLog {
 public:
  // Opens (creates or truncates) `path` for writing.
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const std::string& path);
  // A log that keeps nothing (when the user asked for no log).
  static std::unique_ptr<EventLog> Null();

  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends {"t": <seconds since open>, "type": type, ...fields}. The first
  // write error is kept (see status()) and later events are dropped; the
  // caller decides whether to stop the run.
  void Emit(const std::string& type, nlohmann::json fields = nlohmann::json::object());

  // OK, or the first write error (e.g. a full disk).
  absl::Status status() const;
  // Events written so far.
  int64_t events() const;
  const std::string& path() const { return path_; }

 private:
  EventLog(int fd, std::string path);

  const int fd_;
  const std::string path_;
  const int64_t start_ns_;
  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  int64_t events_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kvmbed

#endif  // KVMBED_BASE_EVENT_LOG_H_
