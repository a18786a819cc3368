// Reads a kvmbed JSON-lines event log (docs/events.md) into a bounded summary
// that the HTML renderer draws. Memory and the rendered page stay bounded
// whatever the log's length: time series are kept in at most kMaxBins
// adaptive bins, and only the first/last stall and soft-lockup reports are
// kept in full (see the k* limits below).
//
// Threading: RunData and LogReader are plain values/objects with no internal
// locking; use one from one thread at a time.
#ifndef KVMBED_REPORT_RUN_DATA_H_
#define KVMBED_REPORT_RUN_DATA_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace kvmbed {
namespace report {

// Bounds that keep the page size independent of the log's length.
inline constexpr int kMaxBins = 256;            // time bins per series
inline constexpr int kFirstStallsKept = 40;     // stalls kept in full from the start
inline constexpr int kLastStallsKept = 10;      // ... and from the end
inline constexpr int kSoftLockupsKept = 40;     // soft lockups kept in full
inline constexpr size_t kMaxReportBytes = 16384;  // per stall/soft-lockup report text
inline constexpr int kConsoleLinesKept = 60;    // last console lines per VM
inline constexpr size_t kMaxConsoleLineBytes = 400;
// Per-VM sections (heat maps, latency histograms, console, VM tables) keep
// the first kMaxVmsKept VMs seen; the rest are counted (RunData::*_not_kept)
// and named on the page as left out.
inline constexpr int kMaxVmsKept = 64;
inline constexpr int kMaxHeartbeatRows = 1024;  // vCPU strips over all heat maps
inline constexpr int kMaxUnknownTypesKept = 32;  // distinct unknown event types named
// Input caps: the log is read line by line; a longer line or file is refused.
inline constexpr uint64_t kMaxEventLineBytes = 4 << 20;
inline constexpr uint64_t kMaxEventLogBytes = uint64_t{4} << 30;

// One time bin of a series. `covered_s` is how much of the bin had samples.
struct Cell {
  double progress = 0;  // counter increase inside the bin
  double covered_s = 0;  // seconds of the bin covered by sample intervals
  double stalled_s = 0;  // seconds of the bin in intervals with no progress
  double max = 0;        // max of a gauge (e.g. max csd wait) in the bin
  bool has_max = false;
};

// A set of series sharing one time axis: bins of width `width_s` starting at
// t=0. When a sample falls past kMaxBins bins every series merges pairs of
// bins and the width doubles, so memory stays O(series * kMaxBins).
class Timeline {
 public:
  // Returns the index of a new empty series.
  int AddSeries();
  // Spreads a counter increase over [t0, t1] (uniform rate assumption).
  void AddInterval(int series, double t0, double t1, double progress);
  // Records a gauge value at time t (kept as the max per bin).
  void AddMax(int series, double t, double value);

  double width_s() const { return width_s_; }
  int bins() const { return bins_; }
  const std::vector<Cell>& series(int i) const { return series_[i]; }

 private:
  void Cover(double t);  // grows/merges so that t falls inside the bins
  double width_s_ = 0.25;
  int bins_ = 0;
  std::vector<std::vector<Cell>> series_;
};

// A cumulative log2 latency histogram (the last ipi_latency event of a plane/vm).
struct Histogram {
  std::string plane;  // "guest" or "host"
  std::string vm;     // empty for the host plane as a whole
  std::vector<std::pair<double, uint64_t>> buckets;  // (upper bound ns, count)
  uint64_t count = 0;
  double sum_ns = 0;
  double max_ns = 0;
  double t = 0;
  int line = 0;  // log line it came from
};

// One stall (all stall events of one plane/vm/seq folded together).
struct Stall {
  std::string plane, vm;
  int64_t seq = 0;
  int64_t waiter = -1, target = -1;
  std::string func, info;
  std::string verdict;  // of the latest event: lost/slow/pending
  double first_t = 0, last_t = 0;
  double max_wait_ns = 0;
  int reports = 0;               // stall events seen for this seq
  bool cleared = false;
  double cleared_t = 0, cleared_wait_ns = 0;
  std::string first_report;      // the first report in full (capped)
  std::string last_report;       // the latest "continued" one (capped), if any
};

struct SoftLockup {
  std::string vm;
  int64_t vcpu = 0;
  double t = 0, stuck_s = 0;
  std::string report;
};

struct VcpuRow {
  int64_t vcpu = 0;
  bool pinned = false;
  std::vector<int64_t> affinity_requested, affinity_in_force, ran_on;
  std::map<std::string, uint64_t> exits;
  uint64_t kicks = 0, heartbeats = 0;
  std::string state;
};

struct VmSummaryRow {
  std::string vm;
  int64_t vcpus = 0;
  uint64_t memory_bytes = 0;
  bool all_online = false;
  double boot_ms = 0, run_s = 0;
  std::string error;
  std::vector<VcpuRow> per_vcpu;
};

// Heartbeat state of one VM: one timeline series per vCPU.
struct VmBeats {
  std::vector<int> series;         // Timeline series index per vCPU
  std::vector<double> last_count;  // last cumulative counter per vCPU
  double last_t = -1;
  uint64_t samples = 0;
};

struct StatusPoint {
  double t = 0, elapsed_s = 0, ipis = 0, ipis_per_s = 0, csd_waits = 0;
  double max_wait_ns = 0, stalls_lost = 0, stalls_slow = 0;
};

struct RunData {
  std::string path;
  nlohmann::json run_start;  // null if absent
  nlohmann::json run_end;    // null if absent (a killed run)
  std::map<std::string, double> vm_boot_ms;  // vm_online
  double last_t = 0;
  int64_t lines = 0;
  bool truncated_last_line = false;
  std::string truncated_note;  // what was wrong with the dropped last line
  std::map<std::string, int64_t> unknown_types;  // type (excerpt) -> count (ignored)
  int64_t unknown_types_not_kept = 0;            // events of further unknown types
  std::map<std::string, int64_t> type_counts;

  Timeline timeline;
  // Heartbeats per VM in first-seen order.
  std::vector<std::pair<std::string, VmBeats>> beats;
  std::map<std::string, size_t> beats_index;  // VM -> index into beats
  int heartbeat_rows = 0;                     // series over all of beats
  // VMs past kMaxVmsKept / kMaxHeartbeatRows, per section: not drawn.
  std::set<std::string> beats_vms_not_kept, histogram_vms_not_kept, console_vms_not_kept;
  int64_t summaries_not_kept = 0;
  int ipi_rate_series = -1;   // from status.ipis
  int max_wait_series = -1;   // from status.max_wait_ns
  int stall_series = -1;      // new stalls (distinct seqs) per bin, all of them
  bool have_status = false;
  StatusPoint prev_status;
  StatusPoint last_status;
  double max_wait_ns = 0;  // the longest csd wait any status event reported

  std::vector<Histogram> histograms;  // one per (plane, vm), latest wins

  // Stalls: the first kFirstStallsKept seqs and the last kLastStallsKept.
  std::vector<Stall> stalls_first;
  std::vector<Stall> stalls_last;  // ring, oldest first after Finish()
  int64_t stalls_total = 0, stalls_lost = 0, stalls_slow = 0, stalls_pending = 0;
  int64_t stall_events = 0;
  std::vector<SoftLockup> soft_lockups;
  int64_t soft_lockups_total = 0;

  std::map<std::string, std::vector<std::string>> console;  // vm -> last lines
  std::map<std::string, int64_t> console_total;
  std::vector<VmSummaryRow> vm_summaries;

  // Finds a kept stall by key, or nullptr.
  Stall* FindStall(const std::string& plane, const std::string& vm, int64_t seq);
};

// Parses `path`, streaming: line by line, at most kMaxEventLineBytes per line
// and kMaxEventLogBytes in all. A malformed line is an error naming path:line
// and the field, except a malformed LAST line, which a kill -9 may leave
// half-written: it is dropped and noted in RunData::truncated_last_line.
absl::StatusOr<RunData> ReadRunLog(const std::string& path);

}  // namespace report
}  // namespace kvmbed

#endif  // KVMBED_REPORT_RUN_DATA_H_
