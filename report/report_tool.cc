// A small driver for the report library, used by the Chromium test and by
// hand until `kvmbed report` is wired into the CLI:
//   report_tool render RUN.jsonl OUT.html
//   report_tool synth OUT.jsonl [duration_s [period_s [noisy]]]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "report/render.h"
#include "report/synthetic_log.h"

int main(int argc, char** argv) {
  using namespace kvmbed::report;
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "render" && argc == 4) {
    absl::StatusOr<std::string> html = RenderReport(argv[2]);
    if (!html.ok()) {
      std::fprintf(stderr, "report_tool: %s\n", std::string(html.status().message()).c_str());
      return 2;
    }
    std::ofstream out(argv[3], std::ios::binary);
    out << *html;
    out.close();
    if (!out) {
      std::fprintf(stderr, "report_tool: cannot write %s\n", argv[3]);
      return 2;
    }
    std::printf("%s: %zu bytes\n", argv[3], html->size());
    return 0;
  }
  if (cmd == "synth" && argc >= 3 && argc <= 6) {
    SyntheticOptions o;
    if (argc > 3) o.duration_s = std::atof(argv[3]);
    if (argc > 4) o.period_s = std::atof(argv[4]);
    if (argc > 5) o.noisy = std::string(argv[5]) == "noisy";
    if (o.duration_s <= 0 || o.period_s <= 0) {
      std::fprintf(stderr, "report_tool: duration_s and period_s must be > 0\n");
      return 2;
    }
    SyntheticFacts facts;
    absl::Status s = WriteSyntheticLog(argv[2], o, &facts);
    if (!s.ok()) {
      std::fprintf(stderr, "report_tool: %s\n", std::string(s.message()).c_str());
      return 2;
    }
    std::printf("%s: %d lines\n", argv[2], facts.lines);
    return 0;
  }
  std::fprintf(stderr,
               "usage: report_tool render RUN.jsonl OUT.html\n"
               "       report_tool synth OUT.jsonl [duration_s [period_s [noisy]]]\n");
  return 2;
}
