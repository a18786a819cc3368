// kEmulatedPower (work in progress: not implemented yet).
#include "absl/status/status.h"
#include "hostipi/memory_model_internal.h"

namespace kvmbed {
namespace hostipi {
namespace internal {
namespace {

class UnimplementedSystem final : public MemorySystem {
 public:
  absl::Status Run(const std::vector<CpuBody>&, absl::Duration) override {
    return absl::UnimplementedError(
        "memory-ordering mode emulated-power is not implemented yet");
  }
  void RequestStop() override {}
  RunStats stats() const override { return {}; }
};

}  // namespace

std::unique_ptr<MemorySystem> CreateEmulatedPowerSystem(const RunOptions&) {
  return std::make_unique<UnimplementedSystem>();
}

}  // namespace internal
}  // namespace hostipi
}  // namespace kvmbed
