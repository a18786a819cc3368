#include "guest/image.h"

extern "C" {
// Defined by objcopy in kvmbed_guest_blob.o (see guest/BUILD).
extern const uint8_t _binary_kvmbed_guest_elf_start[];
extern const uint8_t _binary_kvmbed_guest_elf_end[];
}

namespace kvmbed {
namespace guest {

absl::Span<const uint8_t> Image() {
  return absl::Span<const uint8_t>(
      _binary_kvmbed_guest_elf_start,
      static_cast<size_t>(_binary_kvmbed_guest_elf_end -
                          _binary_kvmbed_guest_elf_start));
}

}  // namespace guest
}  // namespace kvmbed
