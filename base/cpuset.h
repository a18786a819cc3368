// libvirt cpuset syntax ("0-3", "1-4,^3,6", "0-3,^2", "5") <-> sorted CPU
// lists.
//
// Grammar (as libvirt's virBitmapParse): a comma-separated list of elements,
// each one of
//   N      include CPU N
//   N-M    include CPUs N..M (N <= M)
//   ^N     exclude CPU N (a single CPU; "^N-M" is not libvirt syntax)
// Blanks (space, tab, newline) may surround numbers, '-' and ','; '^' must be
// followed directly by a digit. Elements apply left to right, as in libvirt.
// kvmbed is stricter than libvirt in three places, each reported as an error
// instead of being silently accepted: an exclusion of a CPU that no earlier
// element included (usually a mistake in ordering, e.g. "^3,0-7"), an empty
// element (",,", a trailing ','), and a set that ends up empty.
//
// Thread-safe: pure functions.
#ifndef KVMBED_BASE_CPUSET_H_
#define KVMBED_BASE_CPUSET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmbed {

// Largest CPU number a cpuset may name (Linux's NR_CPUS is at most 8192).
inline constexpr int kMaxCpuNumber = 8191;

// What is wrong with a cpuset and where: `column` is 1-based into the text.
struct CpusetError {
  int column = 1;
  std::string message;  // "<what is wrong>; <how to fix it>"
};

// Parses `text`; on success fills `cpus` (sorted, unique, non-empty) and
// returns true, else fills `error` and returns false.
bool ParseCpuset(absl::string_view text, std::vector<int>* cpus,
                 CpusetError* error);

// Parses `text`; errors read `cpuset "<text>": column N: <what>; <fix>`.
absl::StatusOr<std::vector<int>> ParseCpuset(absl::string_view text);

// Formats CPUs canonically: sorted, deduplicated, runs of two or more as
// "a-b" ({0,1,2,3,6} -> "0-3,6"). An empty list formats as "".
std::string FormatCpuset(std::vector<int> cpus);

// Thread and process CPU affinity: the one place kvmbed calls
// sched_getaffinity / pthread_{set,get}affinity_np.

// The CPUs this process may run on (its sched_getaffinity mask), sorted.
absl::StatusOr<std::vector<int>> ProcessCpus();
// Pins the calling thread to `cpus` (a CPU of them each time it runs); an
// empty list leaves the affinity as it is. The error names `what` (e.g.
// "vcpu-3") and the CPUs, e.g. "pin vcpu-3 to host CPUs 7: Invalid argument".
absl::Status PinThisThread(const std::vector<int>& cpus, absl::string_view what);
// The calling thread's affinity in force, sorted.
absl::StatusOr<std::vector<int>> ThisThreadCpus();

}  // namespace kvmbed

#endif  // KVMBED_BASE_CPUSET_H_
