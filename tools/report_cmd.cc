// `kvmbed report RUN.jsonl [--output OUT.html]`: one self-contained HTML page
// with the run's plots and stall reports.
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "report/render.h"
#include "tools/commands.h"
#include "tools/common.h"
#include "tools/flags.h"

namespace kvmbed {

int ReportCommand(const std::vector<std::string>& args) {
  absl::Status flags = OnlyFlags("report", {"output"});
  if (!flags.ok()) return BadInput(flags);
  if (args.size() != 1) {
    return BadInput("usage: kvmbed report RUN.jsonl [--output OUT.html]");
  }
  absl::StatusOr<std::string> html = report::RenderReport(args[0]);
  if (!html.ok()) return BadInput(html.status());
  if (absl::GetFlag(FLAGS_output).empty()) {
    // A page on a terminal helps nobody: default to RUN.html beside the log.
    std::string out = args[0];
    if (absl::EndsWith(out, ".jsonl")) out.resize(out.size() - 6);
    absl::SetFlag(&FLAGS_output, absl::StrCat(out, ".html"));
  }
  absl::Status st = WriteOutput(*html);
  if (!st.ok()) return BadInput(st);
  std::printf("wrote %s\n", absl::GetFlag(FLAGS_output).c_str());
  return kExitClean;
}

}  // namespace kvmbed
