// Runs one Linux guest (a bzImage + initramfs) on kvmbed's pinned vCPU
// threads and watches it from both sides: the console (watch/linux_console.h)
// and the hypervisor, which samples every vCPU's RIP and reports a vCPU that
// spins in the kernel's IPI-wait functions (csd_lock_wait,
// smp_call_function_many_cond, smp_call_function_single) for longer than a
// threshold. Every report carries each vCPU's thread state, host CPU, last
// exits, mp_state, LAPIC IRR/ISR and symbolized RIP at that instant.
#ifndef KVMBED_RUNNER_LINUX_RUN_H_
#define KVMBED_RUNNER_LINUX_RUN_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runner/run_spec.h"

namespace kvmbed {

class EventLog;

namespace runner {


std::string DefaultLinuxCmdline();


struct LinuxRunResult {
  int exit_code = 0;          // 0 clean, 1 stall/panic/hang found
  std::string end;            // "poweroff", "reset", "shutdown", "timeout", "stopped"
  int guest_status = -1;      // init's status on poweroff
  std::vector<std::string> stall_kinds;  // every stall reported, in order
  std::string culprit;        // "vcpu-N" when a report named one
  double boot_to_init_s = -1;  // wall seconds to "kvmbed-init: start"
  uint64_t rip_samples = 0;
};

// Boots and watches the guest. Bad input (files, fields) is an error
// (exit 2 for the caller); a found stall is exit_code 1.
absl::StatusOr<LinuxRunResult> RunLinuxGuest(const RunSpec& spec, const LinuxGuestSpec& linux,
                                             EventLog* events);

// Asks a running RunLinuxGuest to stop (signal handlers).
void RequestLinuxRunStop();

}  // namespace runner
}  // namespace kvmbed

#endif  // KVMBED_RUNNER_LINUX_RUN_H_
