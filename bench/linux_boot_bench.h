// Linux boot benchmark: the same kernel, initramfs, command line, vCPU count
// and memory booted by kvmbed, by kvmbed with its RIP sampling practically
// off (0.1 Hz: "kvmbed-unwatched", so the ratio is what the watch costs) and
// by QEMU (-M pc and -M microvm, both with KVM), one after another in rounds, so that the figures of every VMM come
// from the same minutes of the same machine. Each boot is a child process,
// measured the same way whatever the VMM:
//   to init   wall seconds from the spawn to the guest's
//             "kvmbed-init: start" line on its serial console (a file the
//             benchmark polls),
//   total     wall seconds from the spawn to the child's exit (init runs the
//             initramfs's default commands, a 5 s stress-ng --cpu unless the
//             archive says otherwise, then powers the VM off through port
//             0x4f0: kvmbed ends itself, QEMU through isa-debug-exit),
//   peak RSS  the child's ru_maxrss (guest memory it touched included).
// One untimed kvmbed boot comes first: it builds the default initramfs if
// it is not cached, and tells the timed boots (kvmbed's and the peers') the
// exact kernel, initramfs and command line it booted.
// `kvmbed bench linux-boot` prints the medians, ranges and the ratio of each
// peer to kvmbed (FormatLinuxBootBench).
//
// Threading: RunLinuxBootBench runs on the calling thread, one child at a
// time.
#ifndef KVMBED_BENCH_LINUX_BOOT_BENCH_H_
#define KVMBED_BENCH_LINUX_BOOT_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kvmbed {
namespace bench {

struct LinuxBootBenchOptions {
  std::string kvmbed;           // this binary (/proc/self/exe)
  std::string qemu = "qemu-system-x86_64";
  std::string kernel = "default";  // as guest.kernel
  std::string initrd;           // as guest.initrd; empty = kvmbed's default
  std::string cmdline;          // as guest.cmdline; empty = kvmbed's default
  int vcpus = 2;
  uint64_t memory_bytes = 512ull << 20;
  int runs = 3;
  // "kvmbed", "qemu-pc", "qemu-microvm", in the order each round runs them;
  // kvmbed first.
  std::vector<std::string> vmms = {"kvmbed", "kvmbed-unwatched", "qemu-pc", "qemu-microvm"};
  absl::Duration timeout = absl::Seconds(600);  // per boot
  std::string work_dir;         // profiles, consoles and logs go here
};

struct LinuxBootSample {
  bool ok = false;
  double to_init_s = -1;
  double total_s = -1;
  long peak_rss_kib = 0;
  std::string error;  // why not ok: the exit status, a timeout, no init line
};

struct LinuxBootRow {
  std::string vmm;
  std::vector<LinuxBootSample> samples;  // in run order
};

struct LinuxBootBenchResult {
  std::string kernel, initrd, cmdline;  // as kvmbed's warm-up boot resolved them
  int vcpus = 0;
  uint64_t memory_bytes = 0;
  std::vector<LinuxBootRow> rows;  // in `vmms` order
};

// The known VMM names, for checking --vmms.
bool IsLinuxBootVmm(const std::string& name);

// Runs `runs` rounds. Bad options are an error; a boot that fails is a
// sample with ok = false and its reason (the table shows it).
absl::StatusOr<LinuxBootBenchResult> RunLinuxBootBench(const LinuxBootBenchOptions& options);

// The figures: per VMM, the boots that reached init, the medians and ranges
// of "to init", "total" and peak RSS, and each peer's median over kvmbed's.
std::string FormatLinuxBootBench(const LinuxBootBenchResult& result);

// QEMU's argv for one boot (exposed for tests).
std::vector<std::string> QemuBootArgv(const std::string& qemu, const std::string& machine,
                                      const LinuxBootBenchResult& inputs,
                                      const std::string& console_path);

}  // namespace bench
}  // namespace kvmbed

#endif  // KVMBED_BENCH_LINUX_BOOT_BENCH_H_
