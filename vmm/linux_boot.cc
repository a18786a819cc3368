#include "vmm/linux_boot.h"

#include <asm/bootparam.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/input.h"
#include "base/status_macros.h"
#include "vmm/guest_memory.h"

namespace kvmbed {
namespace vmm {
namespace {

// Offsets in the image file (the zero page's hdr sits at the same offsets).
// A bzImage larger than this is not one (Debian's is about 8 MB).
constexpr uint64_t kMaxKernelBytes = 256ull << 20;
constexpr size_t kHdrStart = 0x1f1;
constexpr size_t kSetupSects = 0x1f1;
constexpr size_t kBootFlag = 0x1fe;
constexpr size_t kHeaderEndByte = 0x201;  // header ends at 0x202 + this byte
constexpr size_t kMagic = 0x202;
constexpr size_t kVersion = 0x206;
constexpr size_t kKernelVersion = 0x20e;
constexpr size_t kLoadflags = 0x211;
constexpr size_t kInitrdAddrMax = 0x22c;
constexpr size_t kKernelAlignment = 0x230;
constexpr size_t kRelocatable = 0x234;
constexpr size_t kXloadflags = 0x236;
constexpr size_t kCmdlineSize = 0x238;
constexpr size_t kPrefAddress = 0x258;
constexpr size_t kInitSize = 0x260;
constexpr size_t kMinHeaderEnd = 0x264;  // through init_size (protocol 2.10+)

uint16_t Le16(const std::vector<uint8_t>& b, size_t o) {
  return static_cast<uint16_t>(b[o] | (b[o + 1] << 8));
}
uint32_t Le32(const std::vector<uint8_t>& b, size_t o) {
  return static_cast<uint32_t>(Le16(b, o)) | (static_cast<uint32_t>(Le16(b, o + 2)) << 16);
}
uint64_t Le64(const std::vector<uint8_t>& b, size_t o) {
  return static_cast<uint64_t>(Le32(b, o)) | (static_cast<uint64_t>(Le32(b, o + 4)) << 32);
}

std::string Version(uint16_t v) { return absl::StrFormat("%d.%02d", v >> 8, v & 0xff); }

constexpr char kFix[] =
    "give an x86-64 bzImage (arch/x86/boot/bzImage of a kernel build, or "
    "Debian's /boot/vmlinuz-*)";

}  // namespace

absl::StatusOr<BzImageInfo> ParseBzImage(const std::string& path,
                                         const std::vector<uint8_t>& b) {
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what, "; ", kFix));
  };
  if (b.size() < kMinHeaderEnd) {
    return bad(absl::StrCat("only ", b.size(),
                            " bytes, too short for a bzImage setup header (needs ",
                            kMinHeaderEnd, ")"));
  }
  if (std::memcmp(&b[kMagic], "HdrS", 4) != 0) {
    if (b.size() >= 4 && std::memcmp(b.data(), "\x7f" "ELF", 4) == 0) {
      return bad("is an ELF file (vmlinux), not a bzImage");
    }
    return bad("no \"HdrS\" magic at offset 0x202: not a Linux bzImage");
  }
  if (Le16(b, kBootFlag) != 0xaa55) {
    return bad("boot_flag at 0x1fe is not 0xAA55: not a Linux bzImage");
  }
  BzImageInfo info;
  info.path = path;
  info.version = Le16(b, kVersion);
  if (info.version < kMinBootProtocol) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": boot protocol ", Version(info.version),
        " is too old: kvmbed needs boot protocol >= ", Version(kMinBootProtocol),
        " (64-bit entry, Linux 3.8 or newer); ", kFix));
  }
  info.setup_sects = b[kSetupSects];
  info.loadflags = b[kLoadflags];
  info.xloadflags = Le16(b, kXloadflags);
  info.relocatable = b[kRelocatable] != 0;
  info.kernel_alignment = Le32(b, kKernelAlignment);
  info.pref_address = Le64(b, kPrefAddress);
  info.init_size = Le32(b, kInitSize);
  info.initrd_addr_max = Le32(b, kInitrdAddrMax);
  info.cmdline_size = Le32(b, kCmdlineSize);
  if ((info.loadflags & LOADED_HIGH) == 0) {
    return bad("loadflags says the kernel is not loaded high (a zImage)");
  }
  if ((info.xloadflags & XLF_KERNEL_64) == 0) {
    return bad("xloadflags has no XLF_KERNEL_64: the kernel has no 64-bit entry "
               "point (a 32-bit kernel?)");
  }
  if (!info.relocatable) {
    return bad("the kernel is not relocatable (relocatable_kernel = 0); build it "
               "with CONFIG_RELOCATABLE=y");
  }
  size_t hdr_end = 0x202 + b[kHeaderEndByte];
  if (hdr_end < kMinHeaderEnd || hdr_end > b.size()) {
    return bad(absl::StrCat("setup header end 0x", absl::Hex(hdr_end), " is invalid"));
  }
  size_t sects = info.setup_sects == 0 ? 4 : info.setup_sects;
  info.setup_offset = (sects + 1) * 512;
  if (info.setup_offset >= b.size()) {
    return bad(absl::StrCat("truncated: ", b.size(), " bytes end before the ",
                            "protected-mode kernel at offset ", info.setup_offset));
  }
  info.kernel_size = b.size() - info.setup_offset;
  uint32_t syssize = Le32(b, 0x1f4);  // in 16-byte paragraphs
  if (static_cast<uint64_t>(syssize) * 16 > info.kernel_size) {
    return bad(absl::StrCat("truncated: the header says the kernel is ",
                            static_cast<uint64_t>(syssize) * 16, " bytes but the file holds ",
                            info.kernel_size, " after the setup code"));
  }
  if (info.init_size == 0 || info.init_size < info.kernel_size) {
    return bad("init_size is smaller than the kernel itself");
  }
  if (info.kernel_alignment == 0 || (info.kernel_alignment & (info.kernel_alignment - 1))) {
    return bad(absl::StrCat("kernel_alignment 0x", absl::Hex(info.kernel_alignment),
                            " is not a power of two"));
  }
  uint16_t kv = Le16(b, kKernelVersion);
  if (kv != 0 && kv + 0x200u < b.size()) {
    for (size_t i = kv + 0x200u; i < b.size() && b[i] != 0 && info.kernel_version.size() < 120; ++i) {
      info.kernel_version.push_back(static_cast<char>(b[i]));
    }
  }
  info.header.assign(b.begin() + kHdrStart, b.begin() + hdr_end);
  return info;
}

absl::StatusOr<BzImageInfo> ReadBzImage(const std::string& path, std::vector<uint8_t>* image) {
  // In bulk and bounded: a byte-wise read took over 20 s for an 8 MB image
  // in a nested L1, and a path such as /dev/zero must not read forever.
  absl::StatusOr<std::string> bytes = ReadFileCapped(path, kMaxKernelBytes, "kernel image");
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(bytes.status().message(), "; ", kFix));
  }
  image->assign(bytes->begin(), bytes->end());
  return ParseBzImage(path, *image);
}

absl::StatusOr<LinuxLayout> LoadLinux(GuestMemory& mem, const BzImageInfo& info,
                                      const std::vector<uint8_t>& image,
                                      const std::vector<uint8_t>& initrd,
                                      const std::string& cmdline) {
  LinuxLayout l;
  l.boot_params = kLinuxBootParamsGpa;
  l.cmdline = kLinuxCmdlineGpa;
  l.pml4 = kLinuxPml4Gpa;
  l.gdt = kLinuxGdtGpa;
  if (cmdline.size() > info.cmdline_size || cmdline.size() + 1 > kLinuxCmdlineMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        "guest.cmdline: ", cmdline.size(), " bytes, but ", info.path, " takes at most ",
        info.cmdline_size, "; shorten the command line"));
  }
  // Load address: the preferred one, aligned, at or above 16 MiB.
  uint64_t align = info.kernel_alignment;
  l.kernel = std::max<uint64_t>(info.pref_address, 0x1000000);
  l.kernel = (l.kernel + align - 1) & ~(align - 1);
  l.entry = l.kernel + 0x200;
  const GuestMemory::Region& low = mem.regions().front();
  uint64_t low_end = low.gpa + low.size;
  uint64_t kernel_end = l.kernel + info.init_size;
  if (kernel_end > low_end) {
    return absl::InvalidArgumentError(absl::StrCat(
        info.path, ": the kernel needs ", info.init_size >> 20, " MiB from 0x",
        absl::Hex(l.kernel), " but guest RAM below 4 GiB ends at 0x", absl::Hex(low_end),
        "; give the VM more memory (memory:)"));
  }
  RETURN_IF_ERROR(mem.Write(l.kernel, image.data() + info.setup_offset, info.kernel_size));

  // Initrd: as high as possible, page aligned, below initrd_addr_max.
  if (!initrd.empty()) {
    uint64_t top = std::min<uint64_t>(low_end, static_cast<uint64_t>(info.initrd_addr_max) + 1);
    if (initrd.size() > top || ((top - initrd.size()) & ~0xfffull) < kernel_end) {
      return absl::InvalidArgumentError(absl::StrCat(
          "guest.initrd: ", initrd.size() >> 20, " MiB does not fit between the kernel (ends 0x",
          absl::Hex(kernel_end), ") and 0x", absl::Hex(top),
          "; give the VM more memory or a smaller initramfs"));
    }
    l.initrd = (top - initrd.size()) & ~0xfffull;
    l.initrd_size = initrd.size();
    RETURN_IF_ERROR(mem.Write(l.initrd, initrd.data(), initrd.size()));
  }

  std::vector<char> cl(cmdline.begin(), cmdline.end());
  cl.push_back('\0');
  RETURN_IF_ERROR(mem.Write(l.cmdline, cl.data(), cl.size()));

  boot_params bp;
  std::memset(&bp, 0, sizeof(bp));
  std::memcpy(reinterpret_cast<uint8_t*>(&bp) + kHdrStart, info.header.data(),
              std::min(info.header.size(), sizeof(bp) - kHdrStart));
  bp.hdr.type_of_loader = 0xff;  // undefined loader
  bp.hdr.loadflags |= CAN_USE_HEAP;
  bp.hdr.loadflags &= ~QUIET_FLAG;
  bp.hdr.heap_end_ptr = 0xfe00;
  bp.hdr.cmd_line_ptr = static_cast<uint32_t>(l.cmdline);
  bp.ext_cmd_line_ptr = 0;
  bp.hdr.ramdisk_image = static_cast<uint32_t>(l.initrd);
  bp.hdr.ramdisk_size = static_cast<uint32_t>(l.initrd_size);
  bp.hdr.code32_start = static_cast<uint32_t>(l.kernel);

  // e820: low RAM below the EBDA, the BIOS area reserved, then every region.
  int n = 0;
  auto add = [&](uint64_t addr, uint64_t size, uint32_t type) {
    bp.e820_table[n].addr = addr;
    bp.e820_table[n].size = size;
    bp.e820_table[n].type = type;
    ++n;
  };
  add(0, kLinuxEbdaGpa, 1);
  add(kLinuxEbdaGpa, 0x100000 - kLinuxEbdaGpa, 2);
  for (const GuestMemory::Region& r : mem.regions()) {
    uint64_t start = std::max<uint64_t>(r.gpa, 0x100000);
    if (r.gpa + r.size > start) add(start, r.gpa + r.size - start, 1);
  }
  bp.e820_entries = static_cast<uint8_t>(n);
  RETURN_IF_ERROR(mem.Write(l.boot_params, &bp, sizeof(bp)));

  // Identity map of 0..4 GiB with 2 MiB pages: PML4 -> PDPT -> 4 PDs.
  uint64_t pml4[512] = {};
  uint64_t pdpt[512] = {};
  pml4[0] = (l.pml4 + 0x1000) | 0x3;
  for (int i = 0; i < 4; ++i) pdpt[i] = (l.pml4 + 0x2000 + i * 0x1000ull) | 0x3;
  RETURN_IF_ERROR(mem.Write(l.pml4, pml4, sizeof(pml4)));
  RETURN_IF_ERROR(mem.Write(l.pml4 + 0x1000, pdpt, sizeof(pdpt)));
  std::vector<uint64_t> pd(512 * 4);
  for (size_t j = 0; j < pd.size(); ++j) pd[j] = (j << 21) | 0x83;  // P, RW, PS
  RETURN_IF_ERROR(mem.Write(l.pml4 + 0x2000, pd.data(), pd.size() * 8));

  // GDT: 0x10 = 64-bit code (__BOOT_CS), 0x18 = flat data (__BOOT_DS).
  const uint64_t gdt[4] = {0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull};
  RETURN_IF_ERROR(mem.Write(l.gdt, gdt, sizeof(gdt)));
  return l;
}

absl::Status SetupLinuxBootVcpu(Vcpu& vcpu, const LinuxLayout& l) {
  ASSIGN_OR_RETURN(kvm_sregs s, vcpu.GetSregs());
  kvm_segment code{};
  code.base = 0;
  code.limit = 0xffffffff;
  code.selector = 0x10;
  code.type = 0xb;  // execute/read, accessed
  code.present = 1;
  code.s = 1;
  code.l = 1;
  code.g = 1;
  kvm_segment data = code;
  data.selector = 0x18;
  data.type = 0x3;  // read/write, accessed
  data.l = 0;
  data.db = 1;
  s.cs = code;
  s.ds = s.es = s.fs = s.gs = s.ss = data;
  s.tr = kvm_segment{};
  s.tr.limit = 0x67;
  s.tr.type = 0xb;
  s.tr.present = 1;
  s.ldt = kvm_segment{};
  s.ldt.type = 0x2;
  s.ldt.unusable = 1;
  s.gdt.base = l.gdt;
  s.gdt.limit = 4 * 8 - 1;
  s.idt.base = 0;
  s.idt.limit = 0;
  s.cr0 = 0x80050033ull;  // PG | AM | WP | NE | ET | MP | PE
  s.cr3 = l.pml4;
  s.cr4 = 0x20;           // PAE
  s.efer = 0x500;         // LME | LMA
  RETURN_IF_ERROR(vcpu.SetSregs(s));
  kvm_regs r{};
  r.rip = l.entry;
  r.rsi = l.boot_params;
  r.rflags = 0x2;  // interrupts off
  return vcpu.SetRegs(r);
}

}  // namespace vmm
}  // namespace kvmbed
