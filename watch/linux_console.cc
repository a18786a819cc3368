#include "watch/linux_console.h"

#include <algorithm>

#include <cstdlib>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace kvmbed {
namespace watch {
namespace {

// The console line without its "[   12.345678] " printk time stamp.
absl::string_view Body(absl::string_view line) {
  absl::string_view s = line;
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  if (absl::StartsWith(s, "[")) {
    size_t close = s.find("] ");
    if (close != absl::string_view::npos && close < 20) s.remove_prefix(close + 2);
  }
  return s;
}

bool EndsReport(absl::string_view body) {
  return absl::StartsWith(body, "---[ end trace") ||
         absl::StartsWith(body, "---[ end Kernel panic");
}

}  // namespace

LinuxConsoleEvent ClassifyLinuxLine(const std::string& line) {
  LinuxConsoleEvent e;
  absl::string_view b = Body(line);
  static const std::regex kSoft(R"(watchdog: BUG: soft lockup - CPU#(\d+) stuck for (\d+)s!)");
  static const std::regex kHard(R"(Watchdog detected hard LOCKUP on cpu (\d+))");
  static const std::regex kCsdCpu(R"(csd: .*(?:on|for) CPU#?(\d+))");
  std::smatch m;
  std::string s(b);
  if (absl::StrContains(b, "csd: Detected non-responsive CSD lock")) {
    e.kind = "csd";
    if (std::regex_search(s, m, kCsdCpu)) e.cpu = std::atoi(m[1].str().c_str());
  } else if (absl::StrContains(b, "csd: CSD lock") && absl::StrContains(b, "got unstuck")) {
    e.kind = "csd_unstuck";
    e.fatal = false;
  } else if (std::regex_search(s, m, kSoft)) {
    e.kind = "soft_lockup";
    e.cpu = std::atoi(m[1].str().c_str());
    e.stuck_s = std::atoi(m[2].str().c_str());
  } else if (std::regex_search(s, m, kHard)) {
    e.kind = "hard_lockup";
    e.cpu = std::atoi(m[1].str().c_str());
  } else if (absl::StrContains(b, "rcu: INFO: rcu_") && absl::StrContains(b, "detected stall")) {
    e.kind = "rcu_stall";
  } else if (absl::StrContains(b, "self-detected stall on CPU") ||
             absl::StrContains(b, "detected expedited stalls")) {
    e.kind = "rcu_stall";
  } else if (absl::StartsWith(b, "INFO: task ") && absl::StrContains(b, "blocked for more than")) {
    e.kind = "hung_task";
  } else if (absl::StartsWith(b, "Kernel panic - not syncing")) {
    e.kind = "panic";
  } else if (absl::StartsWith(b, "BUG:") || absl::StartsWith(b, "kernel BUG at")) {
    e.kind = "bug";
  } else if (absl::StartsWith(b, "Oops:") || absl::StartsWith(b, "general protection fault") ||
             absl::StartsWith(b, "Unable to handle kernel")) {
    e.kind = "oops";
  } else if (absl::StartsWith(b, "WARNING: CPU:")) {
    e.kind = "warning";
    e.fatal = false;
  }
  if (!e.kind.empty()) {
    e.title = std::string(b);
    e.lines.push_back(std::string(b));
  }
  return e;
}

std::vector<int> RcuStalledCpus(const LinuxConsoleEvent& e) {
  std::vector<int> cpus;
  if (e.kind != "rcu_stall") return cpus;
  // print_cpu_stall_info(): "\t%d-%c%c%c%c: (...)" under pr_fmt "rcu: ".
  static const std::regex kCpu(R"(^rcu:\s+(\d+)-\S{4}: \()");
  std::smatch m;
  for (const std::string& line : e.lines) {
    const std::string b(Body(line));
    if (!std::regex_search(b, m, kCpu)) continue;
    const int cpu = std::atoi(m[1].str().c_str());
    if (std::find(cpus.begin(), cpus.end(), cpu) == cpus.end()) cpus.push_back(cpu);
  }
  return cpus;
}

bool ParseSymbolLine(const std::string& line, uint64_t* addr, std::string* name) {
  absl::string_view b = Body(line);
  size_t at = b.find("kvmbed-sym: ");
  if (at == absl::string_view::npos) return false;
  std::vector<absl::string_view> f =
      absl::StrSplit(b.substr(at + 12), ' ', absl::SkipEmpty());
  if (f.size() < 3) return false;
  uint64_t a = 0;
  if (!absl::SimpleHexAtoi(f[0], &a)) return false;
  *addr = a;
  *name = std::string(f[2]);
  return true;
}

LinuxConsoleWatcher::LinuxConsoleWatcher(
    std::function<void(const LinuxConsoleEvent&)> on_event, int max_report_lines)
    : on_event_(std::move(on_event)), max_lines_(max_report_lines) {}

void LinuxConsoleWatcher::Feed(char c) {
  if (c == '\n') {
    FeedLine(partial_);
    partial_.clear();
  } else if (c != '\r' && partial_.size() < 4096) {
    partial_.push_back(c);
  }
}

void LinuxConsoleWatcher::FeedLine(const std::string& line) {
  lines_.push_back(line);
  LinuxConsoleEvent e = ClassifyLinuxLine(line);
  if (!e.kind.empty()) {
    // "Kernel panic" after a BUG/Oops belongs to that report, but it is the
    // verdict that matters most, so it opens its own.
    Close();
    current_ = std::move(e);
    open_ = true;
    return;
  }
  if (!open_) return;
  absl::string_view b = Body(line);
  current_.lines.push_back(std::string(b));
  if (EndsReport(b) || static_cast<int>(current_.lines.size()) >= max_lines_) Close();
}

void LinuxConsoleWatcher::Close() {
  if (!open_) return;
  open_ = false;
  ++events_;
  on_event_(current_);
  current_ = LinuxConsoleEvent();
}

void LinuxConsoleWatcher::Flush() {
  if (!partial_.empty()) {
    FeedLine(partial_);
    partial_.clear();
  }
  Close();
}

}  // namespace watch
}  // namespace kvmbed
