// Command-line flags shared by several kvmbed subcommands. Each flag is
// defined once, in flags.cc. Dashes and underscores are interchangeable on
// the command line (`--fold-cpus` == `--fold_cpus`).
#ifndef KVMBED_TOOLS_FLAGS_H_
#define KVMBED_TOOLS_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(bool, fold_cpus);
ABSL_DECLARE_FLAG(absl::Duration, duration);
ABSL_DECLARE_FLAG(std::string, events);
ABSL_DECLARE_FLAG(std::string, output);
ABSL_DECLARE_FLAG(bool, libvirt);
ABSL_DECLARE_FLAG(int, vcpus);
ABSL_DECLARE_FLAG(int, runs);
ABSL_DECLARE_FLAG(std::string, vmms);
ABSL_DECLARE_FLAG(absl::Duration, warmup);
ABSL_DECLARE_FLAG(double, min_cpu_share);
ABSL_DECLARE_FLAG(int, iterations);
ABSL_DECLARE_FLAG(bool, verbose);
ABSL_DECLARE_FLAG(std::string, nested);
ABSL_DECLARE_FLAG(std::string, inject_fault);
ABSL_DECLARE_FLAG(int, fault_vcpu);
ABSL_DECLARE_FLAG(std::string, guest_kernel);
ABSL_DECLARE_FLAG(std::string, system_map);

ABSL_DECLARE_FLAG(int, scenario);
ABSL_DECLARE_FLAG(std::string, mode);
ABSL_DECLARE_FLAG(int, cpus);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(absl::Duration, buggy_budget);
ABSL_DECLARE_FLAG(absl::Duration, fixed_budget);
ABSL_DECLARE_FLAG(int64_t, fixed_doorbells);
ABSL_DECLARE_FLAG(int64_t, threshold);
ABSL_DECLARE_FLAG(std::string, pin);
ABSL_DECLARE_FLAG(std::string, buggy_model);
ABSL_DECLARE_FLAG(std::string, fixed_model);
ABSL_DECLARE_FLAG(std::string, plane);
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::string, explore);
ABSL_DECLARE_FLAG(int, window);
ABSL_DECLARE_FLAG(std::string, messages);
ABSL_DECLARE_FLAG(std::string, expect);
ABSL_DECLARE_FLAG(int64_t, max_states);

ABSL_DECLARE_FLAG(std::string, junit);
ABSL_DECLARE_FLAG(double, scale);
ABSL_DECLARE_FLAG(std::string, kernel_model);
ABSL_DECLARE_FLAG(std::string, host_ordering);
ABSL_DECLARE_FLAG(bool, stop_on_lost);
ABSL_DECLARE_FLAG(absl::Duration, store_hold);
ABSL_DECLARE_FLAG(bool, host_stress);
ABSL_DECLARE_FLAG(absl::Duration, status_interval);
ABSL_DECLARE_FLAG(absl::Duration, rss_every);
ABSL_DECLARE_FLAG(double, drop_ipi_fraction);
ABSL_DECLARE_FLAG(absl::Duration, csd_timeout);
ABSL_DECLARE_FLAG(absl::Duration, soft_lockup);

namespace kvmbed {
// Remembers which flags the command line named (normalized: underscores,
// no leading dashes, "--nofoo" recorded as "foo"); ParseFlags() calls it.
void RecordGivenFlags(const std::vector<std::string>& names);
// True when the command line named --`name` (so it overrides a profile).
bool FlagGiven(const std::string& name);

// Parses the command line after the program name: --name, --name=value,
// --name value (not for booleans), --noname (booleans); dashes and
// underscores are interchangeable in names; "--" ends the flags. Sets the
// flags (those of tools/flags.cc only), records which were given, and
// returns the other arguments in order ("--list" counts as an argument).
// Every problem is an InvalidArgument naming the flag and the fix: an
// unknown flag, a missing value, a value that does not parse, a duration
// that is negative or infinite, a number that is not finite.
absl::StatusOr<std::vector<std::string>> ParseFlags(const std::vector<std::string>& args);

// Refuses every flag the command line gave that `context` (e.g. "reproduce
// muxed-ipi-wakelist") does not use: `applicable` lists the flags it uses
// (underscore names); --verbose applies everywhere. The error names each
// refused flag and what `context` takes, so no flag is silently ignored.
absl::Status OnlyFlags(const std::string& context, const std::vector<std::string>& applicable);
}  // namespace kvmbed

#endif  // KVMBED_TOOLS_FLAGS_H_
