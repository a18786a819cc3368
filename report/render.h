// Renders a kvmbed run (its JSON-lines event log) as one self-contained HTML
// page: inline CSS, inline SVG drawn here, a little inline JS for hover
// read-outs; nothing is loaded from anywhere.
//
// Page size is bounded whatever the log's length: every time axis has at
// most report::kMaxBins bins, and at most kFirstStallsKept + kLastStallsKept
// stall reports and kSoftLockupsKept soft-lockup reports (each capped at
// kMaxReportBytes) are printed in full. See run_data.h and docs/events.md.
//
// Threading: free functions with no shared state; safe from any thread.
#ifndef KVMBED_REPORT_RENDER_H_
#define KVMBED_REPORT_RENDER_H_

#include <string>

#include "absl/status/statusor.h"
#include "report/run_data.h"

namespace kvmbed {
namespace report {

// Reads `jsonl_path` and returns the HTML page. Errors name the file, the
// line and the field (a truncated LAST line is accepted and noted).
absl::StatusOr<std::string> RenderReport(const std::string& jsonl_path);

// Renders already-read data (for tests and other front ends).
std::string RenderHtml(const RunData& data);

// Escapes text for HTML/SVG element content and attribute values.
std::string HtmlEscape(const std::string& text);

}  // namespace report
}  // namespace kvmbed

#endif  // KVMBED_REPORT_RENDER_H_
