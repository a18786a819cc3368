// The CPU vocabulary of profiles: cpusets in libvirt syntax, vcpupin
// entries (each vCPU pinned once, in range), the check of profile CPUs
// against the host and --fold-cpus (configs/profile.h).
#include "configs/profile_reader.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/cpuset.h"
#include "base/input.h"
#include "base/status_macros.h"

namespace kvmbed {
namespace profile_internal {
namespace {

const std::vector<KeySpec>& PinKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"vcpu", true, "vcpu: \"0-1\""},
      {"cpuset", true, "cpuset: \"0-3\""},
  };
  return *keys;
}

}  // namespace

absl::StatusOr<std::vector<int>> FieldReader::Cpuset(const YAML::Node& node,
                                                       const std::string& field,
                                                       const char* what) const {
  if (!node.IsScalar()) {
    return Error(node, field,
                 absl::StrCat("expected a ", what,
                              " in libvirt cpuset syntax (e.g. \"0-3\" or "
                              "\"1-4,^3,6\"), got ",
                              KindOf(node)));
  }
  std::vector<int> cpus;
  CpusetError error;
  if (!ParseCpuset(node.Scalar(), &cpus, &error)) {
    return Error(node, field,
                 absl::StrFormat("malformed %s \"%s\": %s", what,
                                 Excerpt(node.Scalar()), error.message),
                 QuoteOffset(node) + error.column - 1);
  }
  return cpus;
}

absl::StatusOr<std::vector<int>> FieldReader::ToHost(
    const YAML::Node& node, const std::string& field,
    const std::vector<int>& cpus) const {
  if (!opts_.check_host_cpus) return cpus;
  if (opts_.fold_cpus) return FoldCpus(cpus, host_);
  std::vector<int> missing;
  std::set_difference(cpus.begin(), cpus.end(), host_.begin(), host_.end(),
                      std::back_inserter(missing));
  if (missing.empty()) return cpus;
  std::string host = FormatCpuset(host_);
  std::string what = missing.size() == 1
                         ? absl::StrCat("CPU ", missing[0], " is")
                         : absl::StrCat("CPUs ", FormatCpuset(missing), " are");
  // Point at the first missing CPU's number when it is written literally,
  // else at the start of the cpuset.
  int extra = QuoteOffset(node);
  int at = FindNumber(node.Scalar(), missing[0]);
  if (at >= 0) extra += at;
  return Error(node, field,
               absl::StrFormat("%s not on this host (host has CPUs %s); pin "
                               "to CPUs %s or run with --fold-cpus to map a "
                               "profile written for a larger host onto this "
                               "one",
                               what, host, host),
               extra);
}

absl::Status VmReader::ReadPins(const YAML::Node& node,
                                     const std::string& path,
                                     VmSpec* vm) const {
  if (!node.IsSequence()) {
    return Error(node, path,
                 absl::StrCat("expected a list of {vcpu, cpuset} entries, "
                              "got ",
                              KindOf(node),
                              "; e.g. vcpupin: [{vcpu: \"0-1\", cpuset: "
                              "\"0-3\"}]"));
  }
  std::vector<std::string> pinned_by(vm->vcpus);  // vCPU -> entry that pins it
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node entry = node[i];
    std::string epath = Index(path, i);
    RETURN_IF_ERROR(CheckMap(entry, epath, PinKeys()));
    const YAML::Node vnode = entry["vcpu"];
    std::string vfield = Join(epath, "vcpu");
    ASSIGN_OR_RETURN(std::vector<int> vcpus,
                     Cpuset(vnode, vfield, "vCPU index list"));
    for (int v : vcpus) {
      int extra =
          QuoteOffset(vnode) + std::max(0, FindNumber(vnode.Scalar(), v));
      if (v >= vm->vcpus) {
        return Error(
            vnode, vfield,
            absl::StrFormat("vCPU %d is out of range: this VM has "
                            "vcpus: %d (indexes 0-%d); use indexes "
                            "in 0-%d or raise vcpus",
                            v, vm->vcpus, vm->vcpus - 1, vm->vcpus - 1),
            extra);
      }
      if (!pinned_by[v].empty()) {
        return Error(vnode, vfield,
                     absl::StrFormat("vCPU %d is pinned twice (already by %s); "
                                     "pin each vCPU in one entry only",
                                     v, pinned_by[v]),
                     extra);
      }
      pinned_by[v] = absl::StrCat(epath, " on line ", LineOf(entry));
    }
    const YAML::Node cnode = entry["cpuset"];
    std::string cfield = Join(epath, "cpuset");
    ASSIGN_OR_RETURN(std::vector<int> cpus, Cpuset(cnode, cfield, "cpuset"));
    ASSIGN_OR_RETURN(std::vector<int> host_cpus, ToHost(cnode, cfield, cpus));
    for (int v : vcpus) {
      vm->vcpu_affinity[v] = host_cpus;
      vm->vcpu_pinned[v] = true;
    }
    vm->vcpupin_as_written.push_back(VcpuPin{vcpus, cpus});
  }
  return absl::OkStatus();
}

}  // namespace profile_internal

std::vector<int> FoldCpus(const std::vector<int>& profile_cpus,
                          const std::vector<int>& host_cpus) {
  std::set<int> out;
  if (host_cpus.empty()) return {};
  for (int c : profile_cpus) {
    out.insert(host_cpus[static_cast<size_t>(c) % host_cpus.size()]);
  }
  return std::vector<int>(out.begin(), out.end());
}
}  // namespace kvmbed
