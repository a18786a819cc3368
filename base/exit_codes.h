// The exit codes of every kvmbed command and run, the contract `git bisect
// run` and soak farms rely on:
//   0  clean: everything ran and nothing was found
//   1  a stall, lockup or failure was found (what `git bisect run` calls bad)
//   2  bad input or a setup error (nothing was measured, or the run could
//      not keep what it measured)
#ifndef KVMBED_BASE_EXIT_CODES_H_
#define KVMBED_BASE_EXIT_CODES_H_

namespace kvmbed {

inline constexpr int kExitClean = 0;
inline constexpr int kExitFound = 1;
inline constexpr int kExitBadInput = 2;

}  // namespace kvmbed

#endif  // KVMBED_BASE_EXIT_CODES_H_
