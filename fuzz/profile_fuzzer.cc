// Fuzz target: a profile's text through the whole loader and validation
// (both with and without --fold-cpus, and without a host), then what the
// CLI does with a valid one: FormatRunSpec and a libvirt export that must
// import back.
//
// LoadScenarioProfileFromString is ParseProfileYaml + ReadScenarioProfile;
// the text is parsed once and the document read under each option set (the
// parse, two passes of yaml-cpp's scanner, is most of an execution's cost).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "configs/libvirt.h"
#include "configs/profile.h"
#include "configs/profile_yaml.h"

namespace {

// An error is bounded: a huge value is quoted as an excerpt.
void CheckError(const absl::Status& status) {
  if (status.ok()) std::abort();
  if (status.message().size() > 4096) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<YAML::Node> root = kvmbed::ParseProfileYaml(text, "fuzz.yaml");
  if (!root.ok()) {
    CheckError(root.status());
    return 0;
  }
  for (int mode = 0; mode < 3; ++mode) {
    kvmbed::ProfileOptions opts;
    if (mode < 2) {
      opts.host_cpus = std::vector<int>{0, 1};
      opts.host_ram_bytes = uint64_t{4} << 30;
      opts.fold_cpus = mode == 1;
    } else {
      opts.check_host_cpus = false;
    }
    absl::StatusOr<kvmbed::ScenarioProfile> spec =
        kvmbed::ReadScenarioProfile(*root, "fuzz.yaml", opts);
    if (!spec.ok()) {
      CheckError(spec.status());
      continue;
    }
    (void)kvmbed::FormatRunSpec(*spec);
    for (const kvmbed::VmSpec& vm : spec->vms) {
      if (vm.vcpus < 1 || vm.vcpus > kvmbed::kMaxVcpus) std::abort();
      if (static_cast<int>(vm.vcpu_affinity.size()) != vm.vcpus) std::abort();
      const std::string xml = kvmbed::ExportLibvirtDomain(vm, spec->source);
      if (!kvmbed::ImportLibvirtDomain(xml, "export.xml").ok()) std::abort();
    }
  }
  return 0;
}
