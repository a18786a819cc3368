// Command-line flags shared by several kvmbed subcommands. Each flag is
// defined once, in flags.cc. Dashes and underscores are interchangeable on
// the command line (`--fold-cpus` == `--fold_cpus`).
#ifndef KVMBED_TOOLS_FLAGS_H_
#define KVMBED_TOOLS_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(bool, fold_cpus);
ABSL_DECLARE_FLAG(absl::Duration, duration);
ABSL_DECLARE_FLAG(std::string, events);
ABSL_DECLARE_FLAG(std::string, output);
ABSL_DECLARE_FLAG(bool, libvirt);
ABSL_DECLARE_FLAG(int, vcpus);
ABSL_DECLARE_FLAG(int, runs);
ABSL_DECLARE_FLAG(int, iterations);
ABSL_DECLARE_FLAG(bool, verbose);
ABSL_DECLARE_FLAG(std::string, inject_fault);
ABSL_DECLARE_FLAG(int, fault_vcpu);

ABSL_DECLARE_FLAG(std::string, junit);
ABSL_DECLARE_FLAG(double, scale);
ABSL_DECLARE_FLAG(std::string, kernel_model);
ABSL_DECLARE_FLAG(bool, host_stress);
ABSL_DECLARE_FLAG(absl::Duration, status_interval);
ABSL_DECLARE_FLAG(absl::Duration, rss_every);
ABSL_DECLARE_FLAG(double, drop_ipi_fraction);
ABSL_DECLARE_FLAG(absl::Duration, csd_timeout);
ABSL_DECLARE_FLAG(absl::Duration, soft_lockup);

#endif  // KVMBED_TOOLS_FLAGS_H_
