// Loading a Linux x86-64 bzImage by the 64-bit boot protocol: parse and
// check the setup header, build the zero page (boot_params) with the command
// line, the initrd and the e820 map, identity-map the low 4 GiB, and point
// the boot vCPU at startup_64 (load address + 0x200) with RSI = boot_params.
//
// Parsing needs no KVM (ParseBzImage works on bytes); LoadLinux writes into
// guest memory; SetupLinuxBootVcpu programs the boot vCPU.
#ifndef KVMBED_VMM_LINUX_BOOT_H_
#define KVMBED_VMM_LINUX_BOOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace vmm {

class GuestMemory;

// What the setup header says about a kernel image.
struct BzImageInfo {
  std::string path;           // for messages
  uint16_t version = 0;       // boot protocol, e.g. 0x020f for 2.15
  uint8_t setup_sects = 0;    // 0 means 4
  uint8_t loadflags = 0;
  uint16_t xloadflags = 0;
  bool relocatable = false;
  uint32_t kernel_alignment = 0;
  uint64_t pref_address = 0;
  uint32_t init_size = 0;     // memory the kernel needs from its load address
  uint32_t initrd_addr_max = 0;
  uint32_t cmdline_size = 0;  // max command line length without the NUL
  uint64_t setup_offset = 0;  // file offset of the protected-mode kernel
  uint64_t kernel_size = 0;   // bytes of protected-mode kernel in the file
  std::string kernel_version;  // the version string the header points at
  // Bytes 0x1f1 .. end of header, to copy into boot_params.hdr.
  std::vector<uint8_t> header;
};

// Oldest boot protocol accepted: 2.12 is the first with xloadflags, which is
// how a kernel says it has a 64-bit entry point.
constexpr uint16_t kMinBootProtocol = 0x020c;

// Checks `image` (the whole file) as a bzImage: size, "HdrS" magic, protocol
// >= 2.12, a 64-bit entry (XLF_KERNEL_64), loaded high, relocatable. Errors
// name `path` and what to give instead.
absl::StatusOr<BzImageInfo> ParseBzImage(const std::string& path,
                                         const std::vector<uint8_t>& image);

// Reads and parses a file (errors name the file).
absl::StatusOr<BzImageInfo> ReadBzImage(const std::string& path,
                                        std::vector<uint8_t>* image);

// Where things went in guest memory.
struct LinuxLayout {
  uint64_t boot_params = 0;
  uint64_t cmdline = 0;
  uint64_t kernel = 0;   // load address; startup_64 is kernel + 0x200
  uint64_t entry = 0;
  uint64_t initrd = 0;
  uint64_t initrd_size = 0;
  uint64_t pml4 = 0;
  uint64_t gdt = 0;
};

// Guest-physical addresses the loader and the platform agree on.
constexpr uint64_t kLinuxGdtGpa = 0x1000;
constexpr uint64_t kLinuxBootParamsGpa = 0x7000;
constexpr uint64_t kLinuxPml4Gpa = 0x9000;      // PML4, PDPT at +0x1000,
                                                // 4 PDs at +0x2000..+0x5fff
constexpr uint64_t kLinuxCmdlineGpa = 0x20000;
constexpr uint64_t kLinuxCmdlineMax = 0x10000;
constexpr uint64_t kLinuxEbdaGpa = 0x9fc00;     // low RAM ends here
constexpr uint64_t kLinuxMpTableGpa = 0xf0000;  // MP floating pointer + table

// Loads kernel, initrd (may be empty) and command line into `mem`, builds
// boot_params with the e820 map and the page tables and GDT. The initrd goes
// as high as possible below initrd_addr_max and the end of low RAM.
absl::StatusOr<LinuxLayout> LoadLinux(GuestMemory& mem, const BzImageInfo& info,
                                      const std::vector<uint8_t>& image,
                                      const std::vector<uint8_t>& initrd,
                                      const std::string& cmdline);

// Programs the boot vCPU for the 64-bit entry: long mode with paging on the
// identity map, flat __BOOT_CS/__BOOT_DS, interrupts off, RSI = boot_params.
absl::Status SetupLinuxBootVcpu(Vcpu& vcpu, const LinuxLayout& layout);

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_LINUX_BOOT_H_
