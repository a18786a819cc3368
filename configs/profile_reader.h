// The profile reader's shared vocabulary, internal to //configs:profile:
// ProfileReader turns one parsed profile document into a ScenarioProfile.
// Its methods live in one file per job:
//   profile_fields.cc       map keys, scalars, names, numbers, durations, and
//                           the positioned error (file:line:col: field: ...)
//   cpu_pinning.cc          cpusets, vcpupin / emulatorpin, the host check
//                           and --fold-cpus
//   vm_fields.cc            one VM: vcpus, topology, memory
//   guest_fields.cc         the `guest:` section of the built-in guest
//   linux_guest_fields.cc   the Linux guest fields of a `guest:` section
//   host_fields.cc          `hostipi:` and `host_stress:`
//   scenario_fields.cc      `reproduce:` (scenario profiles)
//   profile.cc              the run: top-level keys, single- and multi-VM
//                           forms, loading files and shipped profiles
// Not thread-safe; one reader per load.
#ifndef KVMBED_CONFIGS_PROFILE_READER_H_
#define KVMBED_CONFIGS_PROFILE_READER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "configs/profile.h"
#include "hostipi/kernel_model.h"
#include "hostipi/ordering_mode.h"
#include "runner/run_spec.h"
#include "scenarios/reproduce_spec.h"
#include "yaml-cpp/yaml.h"

namespace kvmbed {
namespace profile_internal {

// One key a YAML map may hold.
struct KeySpec {
  const char* key;
  bool required;
  const char* example;  // shown when the key is missing: "vcpus: 4"
};

// "a map", "a list", "nothing" or the quoted scalar (an excerpt).
std::string KindOf(const YAML::Node& node);

// yaml-cpp tags quoted scalars "!"; their text starts one column after the
// node's mark. (Escapes inside quotes can still shift columns.)
int QuoteOffset(const YAML::Node& node);

// Offset of the decimal number `n` written on its own in `text`, or -1.
int FindNumber(const std::string& text, int n);

// "path.key" ("key" at the top level) and "path[i]".
std::string Join(const std::string& path, absl::string_view key);
std::string Index(const std::string& path, size_t i);

// A stress count or size times --scale (ProfileOptions::scale).
int ScaleCount(int n, double f);
uint64_t ScaleBytes(uint64_t b, double f);

class ProfileReader {
 public:
  ProfileReader(std::string source, const ProfileOptions& opts,
                std::vector<int> host)
      : source_(std::move(source)), opts_(opts), host_(std::move(host)) {}

  absl::StatusOr<ScenarioProfile> ReadRun(const YAML::Node& root);

 private:
  // file:line:col: field: message, at `node` shifted right by `extra`
  // columns (for errors inside a scalar).
  absl::Status Error(const YAML::Node& node, const std::string& field,
                     const std::string& message, int extra = 0) const {
    YAML::Mark mark = node.Mark();
    int line = mark.line >= 0 ? mark.line + 1 : 1;
    int column = mark.column >= 0 ? mark.column + 1 + extra : 1;
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:%d:%d: %s: %s", source_, line, column,
                        field.empty() ? "profile" : field, message));
  }

  int LineOf(const YAML::Node& node) const {
    return node.Mark().line >= 0 ? node.Mark().line + 1 : 1;
  }

  // profile_fields.cc
  absl::Status CheckMap(const YAML::Node& node, const std::string& path,
                        const std::vector<KeySpec>& keys) const;
  absl::StatusOr<std::string> String(const YAML::Node& node,
                                     const std::string& field) const;
  // A run or VM name: 1-64 of [A-Za-z0-9._-] (used in file and thread
  // names downstream).
  absl::StatusOr<std::string> Name(const YAML::Node& node,
                                   const std::string& field) const;
  absl::StatusOr<int> Int(const YAML::Node& node, const std::string& field,
                          int min, int max) const;
  absl::StatusOr<absl::Duration> PositiveDuration(const YAML::Node& node,
                                                  const std::string& field) const;
  absl::StatusOr<bool> Bool(const YAML::Node& node, const std::string& field) const;

  // cpu_pinning.cc
  absl::StatusOr<std::vector<int>> Cpuset(const YAML::Node& node,
                                          const std::string& field,
                                          const char* what) const;
  // Checks profile CPUs against the host and folds them if asked.
  absl::StatusOr<std::vector<int>> ToHost(const YAML::Node& node,
                                          const std::string& field,
                                          const std::vector<int>& cpus) const;
  absl::Status ReadPins(const YAML::Node& node, const std::string& path,
                        VmSpec* vm) const;

  // vm_fields.cc
  absl::StatusOr<VmSpec> ReadVm(const YAML::Node& node,
                                const std::string& path) const;

  // guest_fields.cc. `field` is where the section sits ("guest" or
  // "vms[1].guest").
  absl::StatusOr<GuestSpec> ReadGuest(const YAML::Node& node,
                                      const std::string& field = "guest") const;
  absl::Status CheckGuestAgainstVms(const YAML::Node& root, const RunSpec& spec) const;

  // linux_guest_fields.cc: the Linux fields of the `guest:` section `g` at
  // `field` (the section's keys are already checked).
  absl::StatusOr<LinuxGuestSpec> ReadLinuxFields(const YAML::Node& g,
                                                 const std::string& field) const;

  // host_fields.cc
  absl::Status ReadHostStress(const YAML::Node& node, RunSpec* spec) const;
  absl::StatusOr<HostIpiSpec> ReadHostIpi(const YAML::Node& node) const;
  // A hostipi ordering mode at `field`, spelled "native" or "emulated-power".
  absl::StatusOr<hostipi::OrderingMode> OrderingMode(const YAML::Node& n,
                                                     const std::string& field) const;
  // A hostipi kernel model string at `field` ("v5.3,demux=peek"), parsed.
  absl::StatusOr<hostipi::KernelModel> KernelModel(const YAML::Node& n,
                                                   const std::string& field) const;

  // scenario_fields.cc
  absl::StatusOr<ReproduceSpec> ReadReproduce(const YAML::Node& node) const;
  absl::Status ReadWakelist(const YAML::Node& r, ReproduceSpec* spec) const;
  absl::Status ReadLostHostIpi(const YAML::Node& r, ReproduceSpec* spec) const;
  absl::Status CheckReproduceAgainstVms(const YAML::Node& root, const RunSpec& spec,
                                        const ReproduceSpec& reproduce) const;

  std::string source_;
  ProfileOptions opts_;
  std::vector<int> host_;
};

}  // namespace profile_internal
}  // namespace kvmbed

#endif  // KVMBED_CONFIGS_PROFILE_READER_H_
