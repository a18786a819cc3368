// A JSON-lines event log: one JSON object per line, written with a single
// write(2) per event so a crash or `kill -9` loses at most the event being
// written, never an earlier one. When a write fails part-way (a full disk:
// ENOSPC; a file size limit: EFBIG, with SIGXFSZ ignored by the caller) the
// partial line is cut off again, so the log still ends with the last
// complete event.
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
  // Whether Emit() holds each line to base/event_schema.h (strictly: a known
  // type, its required fields of their kinds, no undeclared field). A line
  // that fails is a kvmbed bug: it is still written, and stderr says so
  // once per log; with KVMBED_STRICT_EVENTS=1 in the environment (the test
  // runs set it, see .bazelrc) the process aborts instead, so any test that
  // makes a writer drift from the schema fails. kNone is for tests of the
  // log's transport itself.
  enum class Check { kSchema, kNone };

  // Opens (creates or truncates) `path` for writing.
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const std::string& path,
                                                        Check check = Check::kSchema);
  // A log that keeps nothing (when the user asked for no log).
  static std::unique_ptr<EventLog> Null();

  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends {"t": <seconds since open>, "type": type, ...fields}. The first
  // write error is kept (see status()) and later events are dropped; the
  // caller decides whether to stop the run. A line the error cut short is
  // truncated away (ftruncate to the end of the last complete line).
  void Emit(const std::string& type, nlohmann::json fields = nlohmann::json::object());

  // OK, or the first write error (e.g. a full disk), naming the file, the
  // errno (e.g. "No space left on device (ENOSPC, errno 28)") and how many
  // events the log kept.
  absl::Status status() const;
  // Events written so far.
  int64_t events() const;
  const std::string& path() const { return path_; }

 private:
  EventLog(int fd, std::string path, Check check);
  void CheckLine(const nlohmann::json& line);

  const int fd_;
  const Check check_;
  const std::string path_;
  const int64_t start_ns_;
  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  int64_t events_ ABSL_GUARDED_BY(mu_) = 0;
  // Bytes of complete lines written so far (the file's size, O_TRUNC'd at open).
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool warned_ ABSL_GUARDED_BY(mu_) = false;  // a schema warning was printed
};

}  // namespace kvmbed

#endif  // KVMBED_BASE_EVENT_LOG_H_
