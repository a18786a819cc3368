// Profiles: YAML files (configs/*.yaml) that describe a run, parsed with
// yaml-cpp and validated into a RunSpec. configs/README.md documents the
// format; every error names the file:line:column, the field and the fix:
//
//   configs/x.yaml:7:12: vcpupin[3].cpuset: CPU 12 is not on this host
//   (host has CPUs 0-1); pin to CPUs 0-1 or run with --fold-cpus ...
//
// --fold-cpus maps a profile written for a larger host onto this one:
// profile CPU c becomes host_cpus[c mod H], H = host_cpus.size() (host_cpus
// sorted ascending), and each resulting set is deduplicated. On a host set
// {0,1} guest A's "vCPUs 2k,2k+1 on CPUs 4k..4k+3" thus becomes "every vCPU
// on {0,1}". Folding applies to every CPU, also to CPUs the host has, so the
// mapping depends only on the profile and the host set.
//
// Thread-safe: pure functions (the process affinity is read once per call).
#ifndef KVMBED_CONFIGS_PROFILE_H_
#define KVMBED_CONFIGS_PROFILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "configs/run_spec.h"

namespace kvmbed {

// Most vCPUs one VM may have (KVM's KVM_MAX_VCPUS on x86 is 1024; the VMM
// also checks KVM_CAP_MAX_VCPUS at run time).
inline constexpr int kMaxVcpus = 1024;

// The source name used in messages for the compiled-in default profile.
inline constexpr char kDefaultProfileSource[] = "<built-in default profile>";

struct ProfileOptions {
  // Host CPUs the run may use. Unset: the calling process's
  // sched_getaffinity mask. Tests inject a set here.
  absl::optional<std::vector<int>> host_cpus;
  // --fold-cpus: fold profile CPUs onto host_cpus (see the file comment).
  bool fold_cpus = false;
  // False: validate the profile on its own, without any host (for
  // translating profiles, e.g. libvirt import/export). Then no CPU is
  // checked against a host, nothing is folded, and unpinned vCPUs get an
  // empty vcpu_affinity (meaning "not pinned").
  bool check_host_cpus = true;
  // --scale F (> 0): multiplies what does not depend on the vCPU count:
  // guest stress cpu/io/vm worker counts and vm_bytes (every guest section),
  // host_stress cpu/io/vm counts and vm_bytes. A count > 0 stays >= 1
  // (rounded to nearest); a size is rounded down to a multiple of 4 KiB,
  // at least 4 KiB. Never scaled: vCPU counts, pinning, VM memory sizes
  // (mapped MAP_NORESERVE: only touched pages cost), durations, thresholds.
  double scale = 1;
};

// Reads the CPUs this process may run on (sched_getaffinity), sorted.
absl::StatusOr<std::vector<int>> ProcessAffinityCpus();

// Folds profile CPUs onto `host_cpus` (sorted, non-empty): c ->
// host_cpus[c % host_cpus.size()], sorted and deduplicated.
std::vector<int> FoldCpus(const std::vector<int>& profile_cpus,
                          const std::vector<int>& host_cpus);

// Loads and validates the profile file at `path`.
absl::StatusOr<RunSpec> LoadProfile(const std::string& path,
                                    const ProfileOptions& opts);

// Loads and validates profile `text`; `source_name` prefixes every error.
absl::StatusOr<RunSpec> LoadProfileFromString(absl::string_view text,
                                              const std::string& source_name,
                                              const ProfileOptions& opts);

// The text of configs/default.yaml, compiled into the binary.
absl::string_view DefaultProfileText();

// Loads the compiled-in default profile (source kDefaultProfileSource).
absl::StatusOr<RunSpec> LoadDefaultProfile(const ProfileOptions& opts);

// Describes a validated run for people, one VM per block, grouping vCPUs
// with the same affinity, e.g.
//   run default (configs/default.yaml): 3s, host CPUs 0-1
//     VM default: 4 vCPUs (sockets=1 cores=2 threads=2), memory 64M
//       vCPUs 0-1: CPUs 0
//       ...
// With --fold-cpus each pinned line also shows the profile's CPUs.
std::string FormatRunSpec(const RunSpec& spec);

// Parses a memory size: bytes, or a number with a binary suffix K, M, G, T
// (also KiB..TiB; 1K = 1024). Exposed for the libvirt importer and tests.
// The error message says what is wrong and how to write it.
absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text);

// Formats bytes with the largest binary suffix that divides it exactly
// (4294967296 -> "4G", 1536 -> "1536").
std::string FormatMemorySize(uint64_t bytes);

}  // namespace kvmbed

#endif  // KVMBED_CONFIGS_PROFILE_H_
