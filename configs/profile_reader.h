// The profile reader, internal to //configs:profile: one parsed profile
// document becomes a ScenarioProfile. FieldReader is the vocabulary every
// section shares (the positioned error, map keys, scalars, cpusets); each
// section has its own small reader class with one job, built on it:
//   FieldReader       profile_fields.cc: map keys, scalars, names, numbers,
//                     durations, and the positioned error (file:line:col:
//                     field: ...); cpu_pinning.cc: cpusets, the host check
//                     and --fold-cpus; host_fields.cc: ordering modes and
//                     kernel models (shared by hostipi: and reproduce:)
//   VmReader          vm_fields.cc: one VM (vcpus, topology, memory);
//                     cpu_pinning.cc: its vcpupin / emulatorpin
//   GuestReader       guest_fields.cc: the `guest:` section of the built-in
//                     guest; linux_guest_fields.cc: its Linux guest fields
//   HostReader        host_fields.cc: `hostipi:` and `host_stress:`
//   ReproduceReader   scenario_fields.cc: `reproduce:` (scenario profiles)
//   ProfileReader     profile.cc: the run: top-level keys, single- and
//                     multi-VM forms, calling the section readers
// Loading files and shipped profiles is in profile.cc too.
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

// The shared vocabulary: where the profile came from, how it is read, the
// host's CPUs, and the field readers every section uses.
class FieldReader {
 public:
  FieldReader(std::string source, const ProfileOptions& opts, std::vector<int> host)
      : source_(std::move(source)), opts_(opts), host_(std::move(host)) {}

 protected:
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

  // host_fields.cc
  // A hostipi ordering mode at `field`, spelled "native" or "emulated-power".
  absl::StatusOr<hostipi::OrderingMode> OrderingMode(const YAML::Node& n,
                                                     const std::string& field) const;
  // A hostipi kernel model string at `field` ("v5.3,demux=peek"), parsed.
  absl::StatusOr<hostipi::KernelModel> KernelModel(const YAML::Node& n,
                                                   const std::string& field) const;

  std::string source_;
  ProfileOptions opts_;
  std::vector<int> host_;
};

// One VM's keys (vm_fields.cc) and its pins (cpu_pinning.cc).
class VmReader : public FieldReader {
 public:
  explicit VmReader(const FieldReader& f) : FieldReader(f) {}
  absl::StatusOr<VmSpec> ReadVm(const YAML::Node& node, const std::string& path) const;

 private:
  absl::Status ReadPins(const YAML::Node& node, const std::string& path, VmSpec* vm) const;
};

// A `guest:` section (guest_fields.cc, linux_guest_fields.cc).
class GuestReader : public FieldReader {
 public:
  explicit GuestReader(const FieldReader& f) : FieldReader(f) {}
  // `field` is where the section sits ("guest" or "vms[1].guest").
  absl::StatusOr<GuestSpec> ReadGuest(const YAML::Node& node,
                                      const std::string& field = "guest") const;
  absl::Status CheckGuestAgainstVms(const YAML::Node& root, const RunSpec& spec) const;

 private:
  // The Linux fields of the `guest:` section `g` at `field` (the section's
  // keys are already checked).
  absl::StatusOr<LinuxGuestSpec> ReadLinuxFields(const YAML::Node& g,
                                                 const std::string& field) const;
};

// The host-side sections, `hostipi:` and `host_stress:` (host_fields.cc).
class HostReader : public FieldReader {
 public:
  explicit HostReader(const FieldReader& f) : FieldReader(f) {}
  absl::Status ReadHostStress(const YAML::Node& node, RunSpec* spec) const;
  absl::StatusOr<HostIpiSpec> ReadHostIpi(const YAML::Node& node) const;
};

// The `reproduce:` section of scenario profiles (scenario_fields.cc).
class ReproduceReader : public FieldReader {
 public:
  explicit ReproduceReader(const FieldReader& f) : FieldReader(f) {}
  absl::StatusOr<ReproduceSpec> ReadReproduce(const YAML::Node& node) const;
  absl::Status CheckReproduceAgainstVms(const YAML::Node& root, const RunSpec& spec,
                                        const ReproduceSpec& reproduce) const;

 private:
  absl::Status ReadWakelist(const YAML::Node& r, ReproduceSpec* spec) const;
  absl::Status ReadLostHostIpi(const YAML::Node& r, ReproduceSpec* spec) const;
};

// The run (profile.cc): the top-level keys and the single- and multi-VM
// forms, each section handed to its reader.
class ProfileReader : public FieldReader {
 public:
  using FieldReader::FieldReader;
  absl::StatusOr<ScenarioProfile> ReadRun(const YAML::Node& root);
};

}  // namespace profile_internal
}  // namespace kvmbed

#endif  // KVMBED_CONFIGS_PROFILE_READER_H_
