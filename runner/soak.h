// A soak: every VM of a profile with its guest workload, plus the host
// stress (real stress-ng), for as long as asked, with a live status line, a
// lossless JSON-lines event log (docs/events.md), an orderly stop on
// SIGINT/SIGTERM that keeps everything measured, and a JUnit XML result. The
// exit code is the contract of base/exit_codes.h:
//   0  clean: the run ended (or was stopped) and nothing was found
//   1  a lost IPI, an unresolved stall, a soft lockup, a guest workload error,
//      a guest error or a failed host stress (a stressor failed under load)
//   2  setup error, or a host error: the event log could not be written (the
//      run stops in order, keeps what it measured and says so), a VM failed
//      on the host's side (a KVM ioctl, guest RAM, vCPU pinning:
//      vmm::IsHostError), or stress-ng could not start. A host error wins
//      over anything found: the run did not measure what it was asked to.
//
// `kvmbed soak` (tools/soak_cmd.cc) and the soak benchmarks (bench/) call
// RunSoak; SummarizeSoak is its verdict, a pure function of what was
// measured (soak_test.cc checks it without KVM).
//
// Threading: RunSoak blocks its caller, which watches the runners and prints
// the status line; the VMs run on their own threads.
#ifndef KVMBED_RUNNER_SOAK_H_
#define KVMBED_RUNNER_SOAK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/exit_codes.h"
#include "base/junit.h"
#include "nlohmann/json.hpp"
#include "runner/run_spec.h"
#include "runner/smp_run.h"

namespace kvmbed {
namespace runner {

// Sums of every VM's live counters.
struct Totals {
  uint64_t ipis = 0;
  // Measured guest csd waits (the samples of its ipi_latency histogram: one
  // per smp_call_function*(wait=1) call with a remote target) plus the host
  // plane's finished csd_lock_waits.
  uint64_t csd_waits = 0;
  // Longest completed csd wait so far, both planes: the guest's call latency
  // and csd_lock_wait maxima, the host plane's csd_lock_wait and round-trip
  // maxima.
  uint64_t max_wait_ns = 0;
  int lost = 0;
  int other = 0;  // slow or pending
  int lockups = 0;
  int online = 0;
  // Per VM (runner creation order): guest-plane IPIs sent plus host-plane
  // doorbells, as of that VM's last watch poll.
  std::vector<uint64_t> vm_ipis;
};

struct SoakOptions {
  std::string events_path;  // required
  // Printed first (the KVM line and the run as the profile describes it).
  std::string intro;
  // Added to the run_start event (the KVM in use, ...).
  nlohmann::json run_start_fields = nlohmann::json::object();
  std::string junit_path;   // empty = none
  bool host_stress = true;
  bool watchdogs = true;
  bool quiet = false;  // benchmarks: no per-VM output, no status lines
  // Stop in order at the first LOST stall (either plane): bisection and
  // reproduction runs need the first hit, not the rest of the duration.
  bool stop_on_lost = false;
  absl::Duration status_interval = absl::Seconds(1);
  // Called once per status period on the main thread (benchmarks sample RSS).
  std::function<void(absl::Duration elapsed, const Totals&)> on_status;
  // Benchmarks: called on the main thread about every `sample_every` while
  // the run lasts, with the totals as of each VM's last watch poll; returning
  // true ends the run in order (as a stop signal would, but exit code 0).
  std::function<bool(absl::Time now, const Totals&)> on_sample;
  absl::Duration sample_every = absl::Milliseconds(10);
};

struct SoakOutcome {
  int exit_code = kExitBadInput;
  std::string error;  // why the run could not start or finish (exit 2)
  std::vector<SmpRunResult> results;
  absl::Duration ran_for;
  uint64_t ipis = 0;
};

SoakOutcome RunSoak(const RunSpec& spec, const SoakOptions& options);

// What a soak measured, for its verdict.
struct SoakFacts {
  const RunSpec* spec = nullptr;
  const std::vector<SmpRunResult>* results = nullptr;
  std::string events_path;
  absl::Time started;
  absl::Duration wall;     // from start to the end of the VMs
  absl::Duration ran_for;  // with every VM online
  bool host_stress_ran = false;
  nlohmann::json stress_metrics = nlohmann::json::array();
  std::string stress_problem;  // empty = stress-ng ran and reported
  // stress-ng never stressed: its exec failed (exit 127) or it refused its
  // options or harness set-up (exit 1). A host error; stress_problem says why.
  bool stress_host_error = false;
  bool event_log_ok = true;
  std::string event_log_error;
};

struct SoakSummary {
  std::string text;  // per VM, per vCPU and the host stress
  JUnitReport junit{"kvmbed"};
  int exit_code = 0;
  // "SUCCESS", "FAILURE", "lost IPI", "lost host IPI" (exit 0 or 1), or
  // "event log failed" or "host error" (exit 2).
  std::string verdict;
  uint64_t ipis = 0;  // guest IPIs sent, every VM
};
SoakSummary SummarizeSoak(const SoakFacts& facts);

// The stress-ng command line for `h` over `duration`, writing its metrics to
// `yaml_path`.
std::vector<std::string> HostStressCommandLine(const HostStressSpec& h, absl::Duration duration,
                                               const std::string& yaml_path);
// stress-ng's --yaml metrics as JSON: [{stressor, bogo_ops, ...}].
absl::StatusOr<nlohmann::json> ReadStressNgMetrics(const std::string& path);

// soak-NAME-YYYYmmdd-HHMMSS.jsonl (UTC).
std::string DefaultEventsPath(const RunSpec& spec);

}  // namespace runner
}  // namespace kvmbed

#endif  // KVMBED_RUNNER_SOAK_H_
