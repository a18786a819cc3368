#include "vmm/guest_page_walk.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace kvmbed {
namespace vmm {
namespace {

constexpr uint64_t kAddressMask = 0x000ffffffffff000ull;  // bits 12..51
constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kPageSize = 1ull << 7;  // PS: this entry maps a 1 GiB or 2 MiB page

}  // namespace

absl::StatusOr<uint64_t> GuestVirtToPhys(const PageTableReader& read, uint64_t cr3, uint64_t va) {
  uint64_t table = cr3 & kAddressMask;
  for (int level = 3; level >= 0; --level) {  // 3 = PML4 ... 0 = PT
    const uint64_t index = (va >> (12 + 9 * level)) & 0x1ff;
    ASSIGN_OR_RETURN(uint64_t e, read(table + index * 8));
    if (!(e & kPresent)) return absl::NotFoundError(absl::StrFormat("0x%x not mapped", va));
    const uint64_t addr = e & kAddressMask;
    if (level > 0 && level < 3 && (e & kPageSize)) {  // 1 GiB (PDPT) or 2 MiB (PD) page
      const uint64_t size = 1ull << (12 + 9 * level);
      return (addr & ~(size - 1)) | (va & (size - 1));
    }
    if (level == 0) return addr | (va & 0xfff);
    table = addr;
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<uint64_t> GuestVirtToPhys(const GuestMemory& mem, uint64_t cr3, uint64_t va) {
  return GuestVirtToPhys([&mem](uint64_t gpa) { return mem.ReadAs<uint64_t>(gpa); }, cr3, va);
}

}  // namespace vmm
}  // namespace kvmbed
