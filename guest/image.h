// The guest mini-kernel ELF embedded into the host binary (//guest:kernel).
#ifndef KVMBED_GUEST_IMAGE_H_
#define KVMBED_GUEST_IMAGE_H_

#include <cstdint>

#include "absl/types/span.h"

namespace kvmbed {
namespace guest {

// The bytes of the embedded guest ELF. Valid for the whole process lifetime.
absl::Span<const uint8_t> Image();

}  // namespace guest
}  // namespace kvmbed

#endif  // KVMBED_GUEST_IMAGE_H_
