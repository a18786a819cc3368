// Fuzz target: the kernel-model parser and the cpuset parser. A cpuset that
// parses must print back to text that parses to the same set.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/cpuset.h"
#include "hostipi/kernel_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kvmbed::hostipi::KernelModel> model = kvmbed::hostipi::KernelModel::Parse(text);
  if (model.ok()) {
    absl::StatusOr<kvmbed::hostipi::KernelModel> again =
        kvmbed::hostipi::KernelModel::Parse(model->ToString());
    if (!again.ok()) std::abort();
  }
  std::vector<int> cpus;
  kvmbed::CpusetError error;
  if (kvmbed::ParseCpuset(text, &cpus, &error)) {
    if (cpus.empty()) return 0;
    std::vector<int> back;
    if (!kvmbed::ParseCpuset(kvmbed::FormatCpuset(cpus), &back, &error) || back != cpus) {
      std::abort();
    }
  }
  return 0;
}
