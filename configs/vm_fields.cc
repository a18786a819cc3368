// One VM of a profile: name, vcpus, topology, memory (checked against the
// host's RAM), then its pinning (cpu_pinning.cc).
#include "configs/profile_reader.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace kvmbed {
namespace profile_internal {
namespace {

const std::vector<KeySpec>& TopologyKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"sockets", true, "sockets: 1"},
      {"cores", true, "cores: 2"},
      {"threads", true, "threads: 1"},
  };
  return *keys;
}

}  // namespace

absl::StatusOr<VmSpec> VmReader::ReadVm(const YAML::Node& node,
                                             const std::string& path) const {
  VmSpec vm;
  ASSIGN_OR_RETURN(vm.name, Name(node["name"], Join(path, "name")));

  ASSIGN_OR_RETURN(vm.vcpus,
                   Int(node["vcpus"], Join(path, "vcpus"), 1, kMaxVcpus));

  if (node["topology"]) {
    const YAML::Node t = node["topology"];
    std::string tpath = Join(path, "topology");
    RETURN_IF_ERROR(CheckMap(t, tpath, TopologyKeys()));
    ASSIGN_OR_RETURN(vm.topology.sockets,
                     Int(t["sockets"], Join(tpath, "sockets"), 1, kMaxVcpus));
    ASSIGN_OR_RETURN(vm.topology.cores,
                     Int(t["cores"], Join(tpath, "cores"), 1, kMaxVcpus));
    ASSIGN_OR_RETURN(vm.topology.threads,
                     Int(t["threads"], Join(tpath, "threads"), 1, kMaxVcpus));
    const Topology& tp = vm.topology;
    long product = static_cast<long>(tp.sockets) * tp.cores * tp.threads;
    if (product != vm.vcpus) {
      std::string fix;
      int st = tp.sockets * tp.threads;
      if (vm.vcpus % st == 0) {
        fix = absl::StrFormat("e.g. cores: %d", vm.vcpus / st);
      } else {
        fix = absl::StrFormat("e.g. {sockets: 1, cores: %d, threads: 1}",
                              vm.vcpus);
      }
      return Error(t, tpath,
                   absl::StrFormat("sockets*cores*threads = %d*%d*%d = %ld, "
                                   "but vcpus is %d; make the product equal "
                                   "vcpus (%s) or change vcpus to %ld",
                                   tp.sockets, tp.cores, tp.threads, product,
                                   vm.vcpus, fix, product));
    }
  } else {
    // Documented default: one socket, one thread per core.
    vm.topology = Topology{1, vm.vcpus, 1};
  }

  const YAML::Node mem = node["memory"];
  std::string mem_field = Join(path, "memory");
  if (!mem.IsScalar()) {
    return Error(
        mem, mem_field,
        absl::StrCat("expected a size like 64M or 4G, got ", KindOf(mem)));
  }
  absl::StatusOr<uint64_t> bytes = ParseMemorySize(mem.Scalar());
  if (!bytes.ok()) {
    return Error(mem, mem_field, std::string(bytes.status().message()));
  }
  vm.memory_bytes = *bytes;
  if (opts_.check_host_cpus) {
    // Guest RAM is mapped MAP_NORESERVE (only touched pages cost), so a
    // profile written for a larger host runs here; a size far beyond this
    // host's RAM is a typo or a unit mix-up.
    uint64_t ram = opts_.host_ram_bytes.has_value() ? *opts_.host_ram_bytes : HostRamBytes();
    if (ram > 0 && vm.memory_bytes / kMaxMemoryPerHostRam > ram) {
      return Error(mem, mem_field,
                   absl::StrFormat("%s is far beyond this host's RAM (%s): kvmbed accepts "
                                   "up to %d times the host's RAM (%s); check the unit or "
                                   "lower it, e.g. memory: 4G",
                                   FormatMemorySize(vm.memory_bytes),
                                   FormatMemorySize(ram & ~uint64_t{(1u << 20) - 1}),
                                   kMaxMemoryPerHostRam,
                                   FormatMemorySize((ram & ~uint64_t{(1u << 20) - 1}) *
                                                    kMaxMemoryPerHostRam)));
    }
  }

  std::vector<int> unpinned =
      opts_.check_host_cpus ? host_ : std::vector<int>{};
  vm.vcpu_affinity.assign(vm.vcpus, unpinned);
  vm.vcpu_pinned.assign(vm.vcpus, false);
  if (node["vcpupin"]) {
    RETURN_IF_ERROR(ReadPins(node["vcpupin"], Join(path, "vcpupin"), &vm));
  }
  if (node["emulatorpin"]) {
    const YAML::Node e = node["emulatorpin"];
    std::string efield = Join(path, "emulatorpin");
    ASSIGN_OR_RETURN(vm.emulatorpin_as_written, Cpuset(e, efield, "cpuset"));
    ASSIGN_OR_RETURN(vm.emulator_affinity,
                     ToHost(e, efield, vm.emulatorpin_as_written));
  }
  return vm;
}

}  // namespace profile_internal
}  // namespace kvmbed
