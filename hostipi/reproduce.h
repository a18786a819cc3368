// `kvmbed reproduce lost-host-ipi` (alias 3a83f677): run the buggy kernel
// model until the first LOST csd stall, then the fixed model for a budget
// with the same load, and report both.
//
//   scenario 1  the SENDER's stores reordered (message store after the
//               host_ipi store): emulated-power only (x86-TSO keeps stores
//               in order). buggy v5.3 (no smp_mb before setting host_ipi),
//               fixed v5.4.
//   scenario 2  the RECEIVER's clear of host_ipi held in its store buffer
//               past its read of the messages: emulated-power and native
//               x86 with the peek demux. buggy v5.4,mb-after-clear=off,
//               demux=peek; fixed v5.4,demux=peek.
//
// Threading: Reproduce() blocks its caller; it runs the modelled CPUs on its
// own threads (native) or on the calling thread (emulated).
#ifndef KVMBED_HOSTIPI_REPRODUCE_H_
#define KVMBED_HOSTIPI_REPRODUCE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hostipi/kernel_model.h"
#include "hostipi/memory_model.h"
#include "hostipi/stall_report.h"
#include "hostipi/workload.h"

namespace kvmbed {
namespace hostipi {

struct ReproduceOptions {
  int scenario = 1;  // 1 or 2
  OrderingMode mode = OrderingMode::kEmulatedPower;
  int num_cpus = 0;  // 0 = the scenario's default (emulated 4, native 2)
  uint64_t seed = 1;
  // Wall-time cap of the buggy phase (it ends at the first LOST stall).
  absl::Duration buggy_budget = absl::Seconds(30);
  // Wall-time budget of the fixed phase; it also ends once
  // fixed_doorbells doorbells were sent (0 = budget only).
  absl::Duration fixed_budget = absl::Seconds(20);
  int64_t fixed_doorbells = 1'000'000;
  // csd stall threshold in NowNs units; 0 = default (emulated: 200000
  // virtual ticks, 50000 per CPU beyond 4; native: calibrated from a short
  // fixed-model run).
  int64_t threshold_ns = 0;
  // Host CPUs to pin modelled CPU i to (i % size); empty = the scenario's
  // default (native: 0,1,... up to the machine's CPUs; emulated: none).
  std::vector<int> pin_cpus;
  // Kernel models; none = the scenario's defaults (scenario 1: v5.3, then
  // v5.4; scenario 2: v5.4,mb-after-clear=off,demux=peek, then
  // v5.4,demux=peek).
  std::optional<KernelModel> buggy_model;
  std::optional<KernelModel> fixed_model;
  // Called for every stall report of both phases (detected, continued,
  // unstuck), e.g. to stream StallReportToJson() lines to an event log.
  // Runs on the waiting CPU's thread/coroutine: must not block.
  std::function<void(const StallReport&)> on_stall;
  bool skip_buggy = false;  // run only the fixed phase (benchmarks)
  bool skip_fixed = false;  // run only the buggy phase (benchmarks)
};

struct PhaseResult {
  bool ran = false;
  std::string kernel_model;           // KernelModel::ToString()
  std::string kernel_sites;           // KernelModel::Describe()
  bool reproduced = false;            // a LOST stall was reported
  double seconds = 0;                 // wall time of the phase
  double seconds_to_lost = 0;         // wall time until the first LOST report
  int64_t virtual_ticks_to_lost = 0;  // emulated: virtual ticks waited then
  int64_t doorbells = 0;              // sent during the phase
  int64_t doorbells_to_lost = 0;      // sent until the first LOST report
  int64_t stalls_lost = 0;
  int64_t stalls_slow = 0;
  int64_t calls_completed = 0;
  int64_t doorbells_ignored = 0;
  int64_t peeks_saw_zero = 0;  // demux=peek: handled doorbells with no messages
  int64_t max_wait_ns = 0;     // longest finished csd_lock_wait (NowNs units)
  double doorbells_per_second = 0;
  // The first LOST report (or, if none, the first SLOW one), full text.
  std::string report;
  // Its CPU-by-CPU trace alone.
  std::string trace;
  // The LOST evidence, parsed back for tests: -1 when no LOST report.
  int lost_waiter = -1;
  int lost_target = -1;
};

struct ReproduceResult {
  ReproduceOptions options;  // with defaults filled in
  std::string scenario_name;
  WorkloadOptions workload;
  int64_t threshold = 0;
  std::string threshold_source;
  std::vector<std::string> warnings;  // e.g. more native threads than CPUs
  PhaseResult buggy;
  PhaseResult fixed;
  // 95% upper bound on the per-doorbell loss probability of the fixed
  // model (rule of three: 3/N), when it stayed clean.
  double p_bound = 0;
  // buggy reproduced && the fixed model had no LOST stall (SLOW ones are
  // this machine's scheduling noise, reported but not failing).
  bool pass = false;
};

// Runs the phases. Errors: bad options (scenario, CPUs, models), or a mode
// that cannot show the scenario (scenario 1 natively on x86).
absl::StatusOr<ReproduceResult> Reproduce(const ReproduceOptions& options);

// Human-readable report of a run (several lines, ends with the verdict).
std::string RenderReproduceResult(const ReproduceResult& result);
// The same as one JSON object (one line), for logs and CI.
std::string ReproduceResultToJson(const ReproduceResult& result);

// Benchmark: per scenario and mode, `runs` buggy runs with seeds 1..runs
// (median time to reproduce, doorbells/s) and one fixed run aiming at
// `fixed_doorbells` doorbells.
struct BenchOptions {
  int runs = 5;
  int64_t fixed_doorbells = 1'000'000;
  absl::Duration buggy_budget = absl::Seconds(30);
  absl::Duration fixed_budget = absl::Seconds(60);
};
struct BenchRow {
  int scenario = 0;
  OrderingMode mode = OrderingMode::kEmulatedPower;
  int reproduced = 0;
  int runs = 0;
  double median_seconds_to_lost = 0;
  double median_doorbells_to_lost = 0;
  double buggy_doorbells_per_second = 0;
  int64_t fixed_doorbells = 0;
  double fixed_doorbells_per_second = 0;
  int64_t fixed_stalls_lost = 0;
  int64_t fixed_stalls_slow = 0;
};
absl::StatusOr<std::vector<BenchRow>> RunReproduceBench(
    const BenchOptions& options);
std::string RenderBench(const std::vector<BenchRow>& rows);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_REPRODUCE_H_
