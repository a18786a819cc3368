#include "configs/profile.h"
#include "configs/profile_reader.h"
#include "configs/profile_yaml.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "base/cpuset.h"
#include "base/input.h"
#include "base/status_macros.h"

namespace kvmbed {
namespace profile_internal {
namespace {

// Keys of one VM. In the single-VM form they sit at the top level; in the
// multi-VM form inside each `vms:` entry. New per-VM sections (guest
// workloads, ...) are added here and read in ReadVm().
const std::vector<KeySpec>& VmKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"name", true, "name: guest-a"},
      {"vcpus", true, "vcpus: 4"},
      {"topology", false, "topology: {sockets: 1, cores: 2, threads: 2}"},
      {"memory", true, "memory: 64M"},
      {"vcpupin", false, "vcpupin: [{vcpu: 0, cpuset: \"0\"}]"},
      {"emulatorpin", false, "emulatorpin: \"0-1\""},
  };
  return *keys;
}

// Keys of the run itself. New run-wide sections (host stress, hostipi kernel
// model, ...) are added here and read in ReadRun().
const std::vector<KeySpec>& RunKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"name", true, "name: my-run"},
      {"duration", false, "duration: 10s"},
      {"hostipi", false, "hostipi: {enabled: true, kernel_model: v5.3}"},
      {"vms", false, "vms: [{name: a, vcpus: 2, memory: 64M}]"},
      {"guest", false, "guest: {workload: torture}"},
      {"reproduce", false, "reproduce: {scenario: pvspinlock-kick}"},
      {"guest_memory", false, "guest_memory: {thp: true, ksm: true}"},
      {"host_stress", false, "host_stress: {cpu: 4, io: 4, vm: 2, vm_bytes: 256M, cpuset: \"0-3\"}"},
  };
  return *keys;
}

const std::vector<KeySpec>& GuestMemoryKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"thp", false, "thp: true"},
      {"ksm", false, "ksm: true"},
  };
  return *keys;
}

namespace {
ScenarioProfile WithReproduce(RunSpec run, ReproduceSpec reproduce) {
  ScenarioProfile p;
  static_cast<RunSpec&>(p) = std::move(run);
  p.reproduce = std::move(reproduce);
  return p;
}
}  // namespace

}  // namespace

absl::StatusOr<ScenarioProfile> ProfileReader::ReadRun(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull()) {
    return Error(root, "",
                 "the profile is empty; start from configs/default.yaml");
  }
  const VmReader vm_reader(*this);
  const GuestReader guest_reader(*this);
  const HostReader host_reader(*this);
  const ReproduceReader reproduce_reader(*this);
  // The top level holds the run keys plus, in the single-VM form, one VM's
  // keys.
  bool multi = root.IsMap() && root["vms"];
  std::vector<KeySpec> top = RunKeys();
  if (!multi) {
    for (const KeySpec& k : VmKeys()) {
      if (std::string(k.key) != "name") top.push_back(k);
    }
  }
  if (multi) {
    // Say why a VM key is not allowed here rather than just "unknown".
    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string& key = it->first.Scalar();
      for (const KeySpec& k : VmKeys()) {
        if (key == k.key && key != "name") {
          return Error(it->first, key,
                       "a profile with 'vms:' describes each VM inside its "
                       "vms entry; move this key into the vms entries");
        }
      }
    }
  }
  RETURN_IF_ERROR(CheckMap(root, "", top));

  RunSpec spec;
  spec.source = source_;
  spec.host_cpus = host_;
  spec.cpus_folded = opts_.fold_cpus && opts_.check_host_cpus;
  ASSIGN_OR_RETURN(spec.name, Name(root["name"], "name"));

  if (root["duration"]) {
    const YAML::Node d = root["duration"];
    absl::Duration duration;
    if (!d.IsScalar() || !absl::ParseDuration(d.Scalar(), &duration)) {
      return Error(d, "duration",
                   absl::StrCat("expected a duration with a unit, got ",
                                KindOf(d), "; e.g. 10s, 5m, 20h or 1h30m"));
    }
    if (duration <= absl::ZeroDuration() ||
        duration == absl::InfiniteDuration()) {
      return Error(d, "duration",
                   absl::StrCat("'", Excerpt(d.Scalar()),
                                "' is not a positive finite duration; use "
                                "e.g. 10s, 5m or 20h"));
    }
    spec.duration = duration;
  }

  spec.scale = opts_.scale;
  if (!(opts_.scale > 0 && opts_.scale <= 1000)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_, ": --scale ", opts_.scale, " is out of range; give a factor > 0, e.g. 0.25"));
  }
  if (root["hostipi"]) {
    ASSIGN_OR_RETURN(spec.hostipi, host_reader.ReadHostIpi(root["hostipi"]));
  }

  if (root["guest"]) {
    ASSIGN_OR_RETURN(spec.guest, guest_reader.ReadGuest(root["guest"]));
  }
  ReproduceSpec reproduce;
  if (root["reproduce"]) {
    ASSIGN_OR_RETURN(reproduce, reproduce_reader.ReadReproduce(root["reproduce"]));
  }
  if (root["guest_memory"]) {
    const YAML::Node m = root["guest_memory"];
    RETURN_IF_ERROR(CheckMap(m, "guest_memory", GuestMemoryKeys()));
    if (m["thp"]) {
      ASSIGN_OR_RETURN(spec.thp, Bool(m["thp"], "guest_memory.thp"));
    }
    if (m["ksm"]) {
      ASSIGN_OR_RETURN(spec.ksm, Bool(m["ksm"], "guest_memory.ksm"));
    }
  }
  if (root["host_stress"]) RETURN_IF_ERROR(host_reader.ReadHostStress(root["host_stress"], &spec));
  if (!multi) {
    ASSIGN_OR_RETURN(VmSpec vm, vm_reader.ReadVm(root, ""));
    spec.vms.push_back(std::move(vm));
    RETURN_IF_ERROR(guest_reader.CheckGuestAgainstVms(root, spec));
    RETURN_IF_ERROR(reproduce_reader.CheckReproduceAgainstVms(root, spec, reproduce));
    return WithReproduce(std::move(spec), std::move(reproduce));
  }
  const YAML::Node vms = root["vms"];
  if (!vms.IsSequence() || vms.size() == 0) {
    return Error(
        vms, "vms",
        absl::StrCat("expected a non-empty list of VMs, got ", KindOf(vms),
                     "; e.g. vms: [{name: a, vcpus: 2, memory: "
                     "64M}]"));
  }
  std::map<std::string, int> names;  // VM name -> line
  for (size_t i = 0; i < vms.size(); ++i) {
    std::string path = Index("vms", i);
    if (vms[i].IsMap()) {
      // Say why a run-wide key is not allowed here rather than "unknown".
      for (auto it = vms[i].begin(); it != vms[i].end(); ++it) {
        const std::string& key = it->first.Scalar();
        for (const KeySpec& k : RunKeys()) {
          if (key == k.key && key != "name" && key != "guest") {
            return Error(it->first, Join(path, key),
                         "this key applies to the whole run, not to one VM; "
                         "move it to the top level of the profile");
          }
        }
      }
    }
    std::vector<KeySpec> vm_keys = VmKeys();
    vm_keys.push_back({"guest", false, "guest: {workload: torture}"});
    RETURN_IF_ERROR(CheckMap(vms[i], path, vm_keys));
    ASSIGN_OR_RETURN(VmSpec vm, vm_reader.ReadVm(vms[i], path));
    if (vms[i]["guest"]) {
      ASSIGN_OR_RETURN(GuestSpec g, guest_reader.ReadGuest(vms[i]["guest"], Join(path, "guest")));
      spec.vm_guest[vm.name] = std::move(g);
    }
    auto [it, inserted] = names.emplace(vm.name, LineOf(vms[i]["name"]));
    if (!inserted) {
      return Error(vms[i]["name"], Join(path, "name"),
                   absl::StrFormat("VM name '%s' is already used on line %d; "
                                   "give each VM its own name",
                                   vm.name, it->second));
    }
    spec.vms.push_back(std::move(vm));
  }
  RETURN_IF_ERROR(guest_reader.CheckGuestAgainstVms(root, spec));
  RETURN_IF_ERROR(reproduce_reader.CheckReproduceAgainstVms(root, spec, reproduce));
  return WithReproduce(std::move(spec), std::move(reproduce));
}

}  // namespace profile_internal

absl::StatusOr<ScenarioProfile> ReadScenarioProfile(const YAML::Node& root,
                                                    const std::string& source_name,
                                                    const ProfileOptions& opts) {
  std::vector<int> host;
  if (opts.check_host_cpus) {
    if (opts.host_cpus.has_value()) {
      host = *opts.host_cpus;
      std::sort(host.begin(), host.end());
      host.erase(std::unique(host.begin(), host.end()), host.end());
    } else {
      ASSIGN_OR_RETURN(host, ProcessCpus());
    }
    if (host.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name,
                       ": the host CPU set is empty; run kvmbed with at "
                       "least one CPU in its affinity mask"));
    }
  }
  profile_internal::ProfileReader reader(source_name, opts, std::move(host));
  try {
    return reader.ReadRun(root);
  } catch (const YAML::Exception& e) {
    // The reader only reads nodes it has checked; this is a safety net.
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:%d:%d: cannot read the profile: %s", source_name,
                        e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

absl::StatusOr<ScenarioProfile> LoadScenarioProfileFromString(absl::string_view text,
                                                              const std::string& source_name,
                                                              const ProfileOptions& opts) {
  ASSIGN_OR_RETURN(YAML::Node root, ParseProfileYaml(text, source_name));
  return ReadScenarioProfile(root, source_name, opts);
}

namespace {
absl::StatusOr<ScenarioProfile> LoadScenarioProfileFile(const std::string& path,
                                                const ProfileOptions& opts) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: is a directory; give a profile file such as "
                        "configs/default.yaml",
                        path));
  }
  absl::StatusOr<std::string> text = ReadFileCapped(path, kMaxProfileBytes, "profile");
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return absl::NotFoundError(absl::StrCat(text.status().message(),
                                              " (shipped profiles are in configs/)"));
    }
    return text.status();
  }
  return LoadScenarioProfileFromString(*text, path, opts);
}
}  // namespace

absl::string_view ShippedProfileText(absl::string_view name) {
  for (const ShippedProfile& p : ShippedProfiles()) {
    if (name == p.name) {
      absl::string_view text = p.raw;
      absl::ConsumePrefix(&text, "\n");
      return text;
    }
  }
  return absl::string_view();
}

absl::string_view DefaultProfileText() { return ShippedProfileText("default"); }

absl::StatusOr<ScenarioProfile> LoadScenarioProfile(const std::string& path,
                                            const ProfileOptions& opts) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) return LoadScenarioProfileFile(path, opts);
  absl::string_view name = path;
  absl::ConsumePrefix(&name, "configs/");
  absl::ConsumeSuffix(&name, ".yaml");
  absl::string_view text = ShippedProfileText(name);
  if (text.empty() || name.find('/') != absl::string_view::npos) {
    return LoadScenarioProfileFile(path, opts);  // the usual "cannot open" error
  }
  return LoadScenarioProfileFromString(text, absl::StrCat("configs/", name, ".yaml (built in)"),
                                       opts);
}

namespace {
absl::StatusOr<RunSpec> RunOf(absl::StatusOr<ScenarioProfile> profile) {
  if (!profile.ok()) return profile.status();
  return static_cast<RunSpec&&>(std::move(*profile));
}
}  // namespace

absl::StatusOr<RunSpec> LoadProfileFromString(absl::string_view text,
                                              const std::string& source_name,
                                              const ProfileOptions& opts) {
  return RunOf(LoadScenarioProfileFromString(text, source_name, opts));
}

absl::StatusOr<RunSpec> LoadProfile(const std::string& path, const ProfileOptions& opts) {
  return RunOf(LoadScenarioProfileFile(path, opts));
}

absl::StatusOr<RunSpec> LoadProfileOrShipped(const std::string& path,
                                             const ProfileOptions& opts) {
  return RunOf(LoadScenarioProfile(path, opts));
}

absl::StatusOr<RunSpec> LoadDefaultProfile(const ProfileOptions& opts) {
  return LoadProfileFromString(DefaultProfileText(), kDefaultProfileSource,
                               opts);
}

}  // namespace kvmbed
