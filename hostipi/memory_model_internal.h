// Private to //hostipi:memory_model: the factory of the emulated mode.
#ifndef KVMBED_HOSTIPI_MEMORY_MODEL_INTERNAL_H_
#define KVMBED_HOSTIPI_MEMORY_MODEL_INTERNAL_H_

#include <memory>

#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {
namespace internal {

// kEmulatedPower: all bodies as coroutines on one OS thread.
std::unique_ptr<MemorySystem> CreateEmulatedPowerSystem(
    const RunOptions& options);

}  // namespace internal
}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_MEMORY_MODEL_INTERNAL_H_
