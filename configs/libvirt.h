// libvirt domain XML <-> kvmbed profiles, with tinyxml2 and no libvirt
// daemon. Only what a profile describes is translated: <name>, <memory>,
// <vcpu> (count, and its cpuset= attribute as the default pinning),
// <cputune> <vcpupin>/<emulatorpin>, and <cpu><topology>. Everything else in
// a domain (devices, <os>, other <cputune> children, ...) is listed in a
// comment at the top of the imported profile as not imported.
//
// Errors name the file, the line and the element:
//   dom.xml:14: <vcpupin vcpu='60' cpuset='4-7'>: vCPU 60 is out of range
//   (<vcpu> is 56 on line 5); use vcpu='0' to vcpu='55'
//
// Thread-safe: pure functions.
#ifndef KVMBED_CONFIGS_LIBVIRT_H_
#define KVMBED_CONFIGS_LIBVIRT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runner/run_spec.h"

namespace kvmbed {

// The largest domain XML file kvmbed reads (`virsh dumpxml` of a big guest
// is tens of KiB).
inline constexpr uint64_t kMaxDomainXmlBytes = 4 << 20;

// Converts domain XML `xml` into profile YAML text (the single-VM form);
// `source_name` prefixes errors. The result loads with LoadProfile*.
absl::StatusOr<std::string> ImportLibvirtDomain(absl::string_view xml,
                                                const std::string& source_name);

// Reads the domain XML file at `path` and imports it.
absl::StatusOr<std::string> ImportLibvirtDomainFile(const std::string& path);

// Writes `vm` as domain XML: vCPUs, pinning as the profile wrote it (before
// --fold-cpus; one <vcpupin> per pinned vCPU), emulatorpin, topology and
// memory. `source` (e.g. the profile path) goes into a comment.
std::string ExportLibvirtDomain(const VmSpec& vm, const std::string& source);

// Exports the VM named `vm_name` of `spec`; an empty name picks the only VM
// (an error names the choices when the run has several).
absl::StatusOr<std::string> ExportLibvirtDomain(const RunSpec& spec,
                                                const std::string& vm_name);

}  // namespace kvmbed

#endif  // KVMBED_CONFIGS_LIBVIRT_H_
