// Fuzz target: libvirt domain XML import. A domain that imports must give a
// profile that loads (the importer checks it and reports an internal error
// otherwise, which is a bug here).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "configs/libvirt.h"
#include "configs/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string xml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::string> yaml = kvmbed::ImportLibvirtDomain(xml, "fuzz.xml");
  if (!yaml.ok()) {
    if (yaml.status().code() == absl::StatusCode::kInternal) std::abort();
    if (yaml.status().message().size() > 4096) std::abort();
    return 0;
  }
  kvmbed::ProfileOptions opts;
  opts.check_host_cpus = false;
  if (!kvmbed::LoadProfileFromString(*yaml, "imported.yaml", opts).ok()) std::abort();
  return 0;
}
