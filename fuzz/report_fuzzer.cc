// Fuzz target: the event-log reader and the report renderer. The input is
// the log file's bytes (an in-memory file: ReadRunLog takes a path).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "report/render.h"
#include "report/run_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("kvmbed-fuzz-log", 0);
  if (fd < 0) std::abort();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::abort();
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  absl::StatusOr<kvmbed::report::RunData> d = kvmbed::report::ReadRunLog(path);
  if (!d.ok()) {
    if (d.status().message().size() > 4096) std::abort();
    return 0;
  }
  const std::string html = kvmbed::report::RenderHtml(*d);
  // The page is bounded by the report's caps, not by the log's length.
  if (html.size() > (64u << 20)) std::abort();
  return 0;
}
