// Writes synthetic kvmbed event logs (docs/events.md) for the report tests
// and the demo: a seed-like run with two VMs, heartbeats, status, latency
// histograms, stalls (one report carrying HTML to check escaping) and a soft
// lockup. Deterministic for a given options value.
//
// Threading: free functions; no shared state.
#ifndef KVMBED_REPORT_SYNTHETIC_LOG_H_
#define KVMBED_REPORT_SYNTHETIC_LOG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace kvmbed {
namespace report {

struct SyntheticOptions {
  struct Vm {
    std::string name;
    int vcpus;
  };
  std::vector<Vm> vms = {{"guest-a", 56}, {"guest-b", 4}};
  double duration_s = 120;  // run length
  double period_s = 1;      // status/heartbeats period
  bool noisy = false;       // random per-bin rates (worst case for page size)
  bool with_run_end = true;
  std::string truncate_tail;  // if set, appended without newline (a cut line)
};

// Expected facts about a synthetic log, for assertions.
struct SyntheticFacts {
  uint64_t guest_ipis = 0;     // total of the guest-plane histogram of vm 0
  uint64_t host_ipis = 0;      // total of the host-plane histogram
  int stalls = 0;              // distinct stalls
  int lost = 0, slow = 0;
  int lines = 0;
};

// Writes the log to `path`.
absl::Status WriteSyntheticLog(const std::string& path, const SyntheticOptions& options,
                               SyntheticFacts* facts);

}  // namespace report
}  // namespace kvmbed

#endif  // KVMBED_REPORT_SYNTHETIC_LOG_H_
