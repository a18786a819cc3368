// Turns a Linux guest's console into stall events (plane "linux"): the csd
// lock watchdog, soft and hard lockups, RCU stalls, hung tasks, panics,
// BUG: and Oops reports. A report starts at its title line and collects
// the lines after it until the kernel's own end marker ("---[ end trace",
// "---[ end Kernel panic"), the next report, or a line
// limit.
//
// It also reads the symbol lines the guest's init prints
// ("kvmbed-sym: ADDR TYPE NAME", from /proc/kallsyms) so the hypervisor side
// can symbolize RIPs of a KASLR-less kernel without its System.map.
#ifndef KVMBED_WATCH_LINUX_CONSOLE_H_
#define KVMBED_WATCH_LINUX_CONSOLE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kvmbed {
namespace watch {

struct LinuxConsoleEvent {
  // "csd", "csd_unstuck", "soft_lockup", "hard_lockup", "rcu_stall",
  // "hung_task", "panic", "bug", "oops", "warning".
  std::string kind;
  std::string title;          // the line that started it
  int cpu = -1;               // CPU#N when the title names one
  int stuck_s = -1;           // soft lockup: "stuck for Ns"
  std::vector<std::string> lines;  // the report, title first
  // A stall/crash (everything but csd_unstuck and warning) fails the run.
  bool fatal = true;
};

// Classifies one console line: the event it starts (kind empty if none).
LinuxConsoleEvent ClassifyLinuxLine(const std::string& line);

// The CPUs an RCU stall report names as stalled, in its order: the lines
// "rcu: \t2-...!: (0 ticks this GP) ..." after its title. Empty for other
// kinds.
std::vector<int> RcuStalledCpus(const LinuxConsoleEvent& e);

// A symbol line from init: true and fills addr/name for "kvmbed-sym: ...".
bool ParseSymbolLine(const std::string& line, uint64_t* addr, std::string* name);

class LinuxConsoleWatcher {
 public:
  // `on_event` is called when a report is complete (or at Flush()).
  explicit LinuxConsoleWatcher(std::function<void(const LinuxConsoleEvent&)> on_event,
                               int max_report_lines = 60);

  // Feeds console bytes; complete lines are classified.
  void Feed(char c);
  void FeedLine(const std::string& line);
  // Ends any open report.
  void Flush();

  const std::vector<std::string>& lines() const { return lines_; }
  int events() const { return events_; }

 private:
  void Close();
  std::function<void(const LinuxConsoleEvent&)> on_event_;
  const int max_lines_;
  std::string partial_;
  std::vector<std::string> lines_;  // every complete line so far
  bool open_ = false;
  LinuxConsoleEvent current_;
  int events_ = 0;
};

}  // namespace watch
}  // namespace kvmbed

#endif  // KVMBED_WATCH_LINUX_CONSOLE_H_
