#include "configs/profile.h"
#include "configs/profile_yaml.h"

#include <sched.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "base/input.h"
#include "base/status_macros.h"
#include "base/cpuset.h"
#include "hostipi/kernel_model.h"
#include "yaml-cpp/yaml.h"

namespace kvmbed {
namespace {

// One key a YAML map may hold.
struct KeySpec {
  const char* key;
  bool required;
  const char* example;  // shown when the key is missing: "vcpus: 4"
};

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

// Keys of the `reproduce:` section (RunSpec::reproduce).
const std::vector<KeySpec>& ReproduceKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"scenario", true, "scenario: pvspinlock-kick"},
      {"buggy_budget", false, "buggy_budget: 30s"},
      {"fixed_budget", false, "fixed_budget: 10s"},
      {"fixed_operations", false, "fixed_operations: 100000"},
      {"seed", false, "seed: 1"},
      {"threshold", false, "threshold: 300ms"},
      {"pvspinlock", false, "pvspinlock: {hold: 500us}"},
      {"offline", false, "offline: {target: 1}"},
      {"wakelist", false, "wakelist: {cpus: 4}"},
      {"lost_host_ipi", false, "lost_host_ipi: {shape: 2, mode: native}"},
  };
  return *keys;
}

const std::vector<KeySpec>& WakelistKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"mode", false, "mode: emulated-power"},
      {"cpus", false, "cpus: 4"},
      {"buggy_model", false, "buggy_model: pre-9fb1b36"},
      {"fixed_model", false, "fixed_model: 9fb1b36"},
      {"threshold_ticks", false, "threshold_ticks: 200000"},
  };
  return *keys;
}

const std::vector<KeySpec>& LostHostIpiKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"shape", false, "shape: 2"},
      {"mode", false, "mode: emulated-power"},
      {"cpus", false, "cpus: 4"},
      {"buggy_model", false, "buggy_model: v5.3"},
      {"fixed_model", false, "fixed_model: v5.4"},
      {"threshold", false, "threshold: 200000"},
      {"pin", false, "pin: 0-1"},
  };
  return *keys;
}

const std::vector<KeySpec>& PvSpinlockKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"spin_loops", false, "spin_loops: 1024"}, {"holder", false, "holder: 0"},
      {"irq_vcpu", false, "irq_vcpu: 1"},        {"task_vcpu", false, "task_vcpu: 2"},
      {"hold", false, "hold: 500us"},            {"think", false, "think: 200us"},
      {"irq_fraction", false, "irq_fraction: 0.5"},
  };
  return *keys;
}

const std::vector<KeySpec>& OfflineKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"target", false, "target: 1"},
      {"offline", false, "offline: 400ms"},
      {"online", false, "online: 20ms"},
      {"dying_window", false, "dying_window: 500us"},
      {"tick", false, "tick: 1ms"},
  };
  return *keys;
}

// Keys of `host_stress:` (RunSpec::host_stress; run by `kvmbed soak`).
const std::vector<KeySpec>& HostStressKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"cpu", false, "cpu: 4"},         {"io", false, "io: 4"},
      {"vm", false, "vm: 2"},           {"vm_bytes", false, "vm_bytes: 256M"},
      {"cpuset", false, "cpuset: \"0-3\""},
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

// A stress count or size times --scale (ProfileOptions::scale).
int ScaleCount(int n, double f) {
  if (n <= 0 || f == 1) return n;
  return std::max(1, static_cast<int>(n * f + 0.5));
}
uint64_t ScaleBytes(uint64_t b, double f) {
  if (f == 1) return b;
  uint64_t v = static_cast<uint64_t>(static_cast<double>(b) * f) & ~uint64_t{4095};
  return std::max<uint64_t>(v, 4096);
}

// Keys of the `guest:` section (RunSpec::guest, see configs/README.md).
const std::vector<KeySpec>& GuestKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"workload", false, "workload: torture"},
      {"ops_per_vcpu", false, "ops_per_vcpu: 10000"},
      {"nthreads", false, "nthreads: 2"},
      {"ring", false, "ring: auto"},
      {"weights", false, "weights: {single: 4, many_wait: 1}"},
      {"stress", false, "stress: {cpu: 2, io: 1, vm: 1, vm_bytes: 16M}"},
      {"csd_timeout", false, "csd_timeout: 200ms"},
      {"soft_lockup", false, "soft_lockup: 1s"},
      {"csd_resend", false, "csd_resend: true"},
      {"stat_interval", false, "stat_interval: 5s"},
      {"seed", false, "seed: 42"},
      {"fault", false, "fault: {vcpu: 1, drop_ipi_fraction: 0.01}"},
      // A Linux guest (read by runner/linux_run.cc; docs/linux-guests.md).
      {"kernel", false, "kernel: default"},
      {"initrd", false, "initrd: /var/cache/kvmbed/linux/initramfs.cpio.gz"},
      {"cmdline", false, "cmdline: \"console=ttyS0 nokaslr\""},
      {"system_map", false, "system_map: System.map"},
      {"commands", false, "commands: [\"stress-ng --cpu 4 -t 10s\"]"},
      {"withhold", false, "withhold: {vcpu: 1, after: 2s, for: 40s}"},
      {"csd_threshold", false, "csd_threshold: 5s"},
      {"sample_hz", false, "sample_hz: 20"},
      {"timeout", false, "timeout: 600s"},
      {"console_log", false, "console_log: /tmp/console.log"},
  };
  return *keys;
}

const std::vector<KeySpec>& WeightKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"resched", false, "resched: 8"},     {"single", false, "single: 8"},
      {"single_wait", false, "single_wait: 8"}, {"many", false, "many: 2"},
      {"many_wait", false, "many_wait: 2"}, {"all", false, "all: 1"},
      {"all_wait", false, "all_wait: 1"},
  };
  return *keys;
}

const std::vector<KeySpec>& StressKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"cpu", false, "cpu: 2"},         {"io", false, "io: 1"},
      {"vm", false, "vm: 1"},           {"vm_bytes", false, "vm_bytes: 16M"},
      {"io_dir", false, "io_dir: /tmp"},
  };
  return *keys;
}

const std::vector<KeySpec>& FaultKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"vcpu", false, "vcpu: 1"},
      {"drop_ipi_fraction", false, "drop_ipi_fraction: 0.01"},
      {"handler_delay", false, "handler_delay: 100ms"},
  };
  return *keys;
}

// Keys of the `hostipi:` section (RunSpec::hostipi, see configs/README.md).
const std::vector<KeySpec>& HostIpiKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"enabled", false, "enabled: true"},
      {"kernel_model", false, "kernel_model: v5.4"},
      {"ordering", false, "ordering: emulated-power"},
      {"store_hold", false, "store_hold: 1ms"},
      {"senders", false, "senders: {ksmd_threads: 1, ksmd_cpus: \"0\"}"},
      {"stall_threshold", false, "stall_threshold: 200ms"},
      {"resend_on_stall", false, "resend_on_stall: true"},
      {"seed", false, "seed: 1"},
  };
  return *keys;
}

const std::vector<KeySpec>& HostIpiSenderKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"ksmd_threads", false, "ksmd_threads: 1"},
      {"ksmd_cpus", false, "ksmd_cpus: \"0-1\""},
      {"ksmd_pause", false, "ksmd_pause: 200us"},
      {"vcpu_exit_calls", false, "vcpu_exit_calls: true"},
      {"exit_call_probability", false, "exit_call_probability: 0.5"},
      {"resched_fraction", false, "resched_fraction: 0.5"},
  };
  return *keys;
}

const std::vector<KeySpec>& TopologyKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"sockets", true, "sockets: 1"},
      {"cores", true, "cores: 2"},
      {"threads", true, "threads: 1"},
  };
  return *keys;
}

const std::vector<KeySpec>& PinKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"vcpu", true, "vcpu: \"0-1\""},
      {"cpuset", true, "cpuset: \"0-3\""},
  };
  return *keys;
}

// Edit distance, for "did you mean" suggestions.
int Levenshtein(absl::string_view a, absl::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diag = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int up = row[j];
      int cost = absl::ascii_tolower(a[i - 1]) == absl::ascii_tolower(b[j - 1])
                     ? 0
                     : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return absl::StrCat("'", Excerpt(node.Scalar()), "'");
    default:
      return "nothing";
  }
}

// yaml-cpp tags quoted scalars "!"; their text starts one column after the
// node's mark. (Escapes inside quotes can still shift columns.)
int QuoteOffset(const YAML::Node& node) { return node.Tag() == "!" ? 1 : 0; }

// Offset of the decimal number `n` written on its own in `text`, or -1.
int FindNumber(const std::string& text, int n) {
  std::string digits = std::to_string(n);
  for (size_t at = text.find(digits); at != std::string::npos;
       at = text.find(digits, at + 1)) {
    bool left = at == 0 || !absl::ascii_isdigit(text[at - 1]);
    size_t end = at + digits.size();
    bool right = end == text.size() || !absl::ascii_isdigit(text[end]);
    if (left && right) return static_cast<int>(at);
  }
  return -1;
}

std::string Join(const std::string& path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string Index(const std::string& path, size_t i) {
  return absl::StrCat(path, "[", i, "]");
}

// Reads one profile document into a RunSpec. Not thread-safe; one per load.
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
  absl::StatusOr<std::vector<int>> Cpuset(const YAML::Node& node,
                                          const std::string& field,
                                          const char* what) const;
  // Checks profile CPUs against the host and folds them if asked.
  absl::StatusOr<std::vector<int>> ToHost(const YAML::Node& node,
                                          const std::string& field,
                                          const std::vector<int>& cpus) const;
  absl::StatusOr<VmSpec> ReadVm(const YAML::Node& node,
                                const std::string& path) const;
  absl::Status ReadPins(const YAML::Node& node, const std::string& path,
                        VmSpec* vm) const;
  // `field` is where the section sits ("guest" or "vms[1].guest").
  absl::StatusOr<GuestSpec> ReadGuest(const YAML::Node& node,
                                      const std::string& field = "guest") const;
  absl::Status ReadHostStress(const YAML::Node& node, RunSpec* spec) const;
  absl::StatusOr<HostIpiSpec> ReadHostIpi(const YAML::Node& node) const;
  absl::StatusOr<ReproduceSpec> ReadReproduce(const YAML::Node& node) const;
  absl::Status ReadWakelist(const YAML::Node& r, ReproduceSpec* spec) const;
  absl::Status ReadLostHostIpi(const YAML::Node& r, ReproduceSpec* spec) const;
  // A hostipi ordering mode ("native" / "emulated-power") at `field`.
  absl::StatusOr<std::string> OrderingMode(const YAML::Node& n, const std::string& field) const;
  // A hostipi KernelModel string at `field`, checked by its parser.
  absl::StatusOr<std::string> KernelModelText(const YAML::Node& n,
                                              const std::string& field) const;
  absl::Status CheckReproduceAgainstVms(const YAML::Node& root, const RunSpec& spec,
                                        const ReproduceSpec& reproduce) const;
  absl::Status CheckGuestAgainstVms(const YAML::Node& root, const RunSpec& spec) const;
  absl::StatusOr<absl::Duration> PositiveDuration(const YAML::Node& node,
                                                  const std::string& field) const;
  absl::StatusOr<bool> Bool(const YAML::Node& node, const std::string& field) const;

  std::string source_;
  ProfileOptions opts_;
  std::vector<int> host_;
};

absl::Status ProfileReader::CheckMap(const YAML::Node& node,
                                     const std::string& path,
                                     const std::vector<KeySpec>& keys) const {
  if (!node.IsMap()) {
    return Error(node, path,
                 absl::StrCat("expected a map of keys, got ", KindOf(node),
                              "; e.g. ", keys.front().example));
  }
  std::map<std::string, int> seen;  // key -> line
  for (auto it = node.begin(); it != node.end(); ++it) {
    // A copy: it->first lives in a proxy that dies with this statement.
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      return Error(key, path, "keys must be plain words like 'vcpus'");
    }
    const std::string& name = key.Scalar();
    auto known = std::find_if(keys.begin(), keys.end(),
                              [&](const KeySpec& k) { return name == k.key; });
    if (known == keys.end()) {
      std::vector<std::string> names;
      const KeySpec* best = nullptr;
      const int limit = std::max<int>(2, static_cast<int>(name.size()) / 3);
      int best_distance = limit + 1;
      for (const KeySpec& k : keys) {
        names.push_back(k.key);
        // The distance is at least the length difference: a key that far
        // off cannot be suggested, so its O(n*m) distance is not computed
        // (a pasted paragraph as a key costs no more than a typo).
        const int gap = std::abs(static_cast<int>(name.size()) -
                                 static_cast<int>(std::strlen(k.key)));
        if (gap >= best_distance) continue;
        int d = Levenshtein(name, k.key);
        if (d < best_distance) best_distance = d, best = &k;
      }
      std::string hint;
      if (best != nullptr) {
        hint = absl::StrCat("did you mean '", best->key, "'? ");
      }
      return Error(key, Join(path, Excerpt(name)),
                   absl::StrCat("unknown key; ", hint, "known keys here: ",
                                absl::StrJoin(names, ", ")));
    }
    if (it->second.IsNull()) {
      // A null value's mark points past the key; point at the key instead.
      return Error(
          key, Join(path, name),
          absl::StrCat("has no value; write e.g. '", known->example, "'"));
    }
    auto [where, inserted] = seen.emplace(name, LineOf(key));
    if (!inserted) {
      return Error(key, Join(path, name),
                   absl::StrFormat("duplicate key (first given on line %d); "
                                   "keep only one",
                                   where->second));
    }
  }
  for (const KeySpec& k : keys) {
    if (k.required && seen.count(k.key) == 0) {
      return Error(
          node, Join(path, k.key),
          absl::StrCat("missing required field; add e.g. '", k.example, "'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ProfileReader::String(
    const YAML::Node& node, const std::string& field) const {
  if (!node.IsScalar()) {
    return Error(node, field,
                 absl::StrCat("expected a text value, got ", KindOf(node)));
  }
  return node.Scalar();
}

absl::StatusOr<std::string> ProfileReader::Name(
    const YAML::Node& node, const std::string& field) const {
  ASSIGN_OR_RETURN(std::string name, String(node, field));
  bool ok = !name.empty() && name.size() <= 64 &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
            });
  if (!ok) {
    return Error(node, field,
                 absl::StrCat("'", Excerpt(name),
                              "' is not a valid name; use 1 to 64 letters, "
                              "digits, '-', '_' or '.'"));
  }
  return name;
}

absl::StatusOr<int> ProfileReader::Int(const YAML::Node& node,
                                       const std::string& field, int min,
                                       int max) const {
  int value = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &value)) {
    return Error(node, field,
                 absl::StrFormat("expected a whole number from %d to %d, "
                                 "got %s",
                                 min, max, KindOf(node)));
  }
  if (value < min || value > max) {
    return Error(node, field,
                 absl::StrFormat("%d is out of range; use a number from %d "
                                 "to %d",
                                 value, min, max));
  }
  return value;
}

absl::StatusOr<std::vector<int>> ProfileReader::Cpuset(const YAML::Node& node,
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

absl::StatusOr<std::vector<int>> ProfileReader::ToHost(
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

absl::Status ProfileReader::ReadPins(const YAML::Node& node,
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

absl::StatusOr<VmSpec> ProfileReader::ReadVm(const YAML::Node& node,
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

namespace {
ScenarioProfile WithReproduce(RunSpec run, ReproduceSpec reproduce) {
  ScenarioProfile p;
  static_cast<RunSpec&>(p) = std::move(run);
  p.reproduce = std::move(reproduce);
  return p;
}
}  // namespace

absl::StatusOr<ScenarioProfile> ProfileReader::ReadRun(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull()) {
    return Error(root, "",
                 "the profile is empty; start from configs/default.yaml");
  }
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
    ASSIGN_OR_RETURN(spec.hostipi, ReadHostIpi(root["hostipi"]));
  }

  if (root["guest"]) {
    ASSIGN_OR_RETURN(spec.guest, ReadGuest(root["guest"]));
  }
  ReproduceSpec reproduce;
  if (root["reproduce"]) {
    ASSIGN_OR_RETURN(reproduce, ReadReproduce(root["reproduce"]));
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
  if (root["host_stress"]) RETURN_IF_ERROR(ReadHostStress(root["host_stress"], &spec));
  if (!multi) {
    ASSIGN_OR_RETURN(VmSpec vm, ReadVm(root, ""));
    spec.vms.push_back(std::move(vm));
    RETURN_IF_ERROR(CheckGuestAgainstVms(root, spec));
    RETURN_IF_ERROR(CheckReproduceAgainstVms(root, spec, reproduce));
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
    ASSIGN_OR_RETURN(VmSpec vm, ReadVm(vms[i], path));
    if (vms[i]["guest"]) {
      ASSIGN_OR_RETURN(GuestSpec g, ReadGuest(vms[i]["guest"], Join(path, "guest")));
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
  RETURN_IF_ERROR(CheckGuestAgainstVms(root, spec));
  RETURN_IF_ERROR(CheckReproduceAgainstVms(root, spec, reproduce));
  return WithReproduce(std::move(spec), std::move(reproduce));
}

absl::StatusOr<absl::Duration> ProfileReader::PositiveDuration(
    const YAML::Node& node, const std::string& field) const {
  absl::Duration d;
  if (!node.IsScalar() || !absl::ParseDuration(node.Scalar(), &d)) {
    return Error(node, field,
                 absl::StrCat("expected a duration with a unit, got ", KindOf(node),
                              "; e.g. 200ms, 5s"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return Error(node, field,
                 absl::StrCat("'", Excerpt(node.Scalar()),
                              "' is not a positive finite duration; use e.g. 200ms or 5s "
                              "(leave the key out for the default)"));
  }
  return d;
}

absl::StatusOr<bool> ProfileReader::Bool(const YAML::Node& node,
                                         const std::string& field) const {
  if (node.IsScalar()) {
    std::string v = absl::AsciiStrToLower(node.Scalar());
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
  }
  return Error(node, field, absl::StrCat("expected true or false, got ", KindOf(node)));
}

namespace {

absl::Status LinuxFieldError(const std::string& source, const std::string& field,
                             const std::string& what, const std::string& fix) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", field, ": ", what, "; ", fix));
}

absl::StatusOr<absl::Duration> LinuxDuration(const YAML::Node& n, const std::string& source,
                                             const std::string& field) {
  absl::Duration d;
  std::string s = n.as<std::string>();
  if (!absl::ParseDuration(s, &d) || d < absl::ZeroDuration()) {
    return LinuxFieldError(source, field, absl::StrCat("'", Excerpt(s), "' is not a duration"),
                           "write e.g. 5s or 500ms");
  }
  return d;
}

// The Linux fields of a `guest:` section (docs/linux-guests.md).
absl::StatusOr<LinuxGuestSpec> ReadLinuxFields(const YAML::Node& g, const std::string& source) {
  LinuxGuestSpec l;
  try {
    if (g["kernel"]) {
      l.present = true;
      l.kernel = g["kernel"].as<std::string>();
    }
    if (g["initrd"]) l.initrd = g["initrd"].as<std::string>();
    if (g["cmdline"]) l.cmdline = g["cmdline"].as<std::string>();
    if (g["system_map"]) l.system_map = g["system_map"].as<std::string>();
    if (g["commands"]) {
      if (!g["commands"].IsSequence()) {
        return LinuxFieldError(source, "guest.commands", "is not a list", "write commands: [\"stress-ng --cpu 4 -t 10s\"]");
      }
      for (const auto& c : g["commands"]) l.commands.push_back(c.as<std::string>());
    }
    if (g["console_log"]) l.console_log = g["console_log"].as<std::string>();
    if (g["timeout"]) { ASSIGN_OR_RETURN(l.timeout, LinuxDuration(g["timeout"], source, "guest.timeout")); }
    if (g["csd_threshold"]) {
      ASSIGN_OR_RETURN(l.csd_threshold, LinuxDuration(g["csd_threshold"], source, "guest.csd_threshold"));
    }
    if (g["sample_hz"]) l.sample_hz = g["sample_hz"].as<double>();
    if (g["withhold"]) {
      YAML::Node w = g["withhold"];
      if (!w["vcpu"]) return LinuxFieldError(source, "guest.withhold.vcpu", "missing", "write withhold: {vcpu: 1, for: 40s}");
      l.withhold_vcpu = w["vcpu"].as<int>();
      if (w["after"]) { ASSIGN_OR_RETURN(l.withhold_after, LinuxDuration(w["after"], source, "guest.withhold.after")); }
      if (w["for"]) { ASSIGN_OR_RETURN(l.withhold_for, LinuxDuration(w["for"], source, "guest.withhold.for")); }
    }
  } catch (const YAML::Exception& e) {
    return LinuxFieldError(source, "guest", absl::StrCat("a Linux guest field has the wrong type (", e.what(), ")"),
               "see docs/linux-guests.md for the fields");
  }
  if (l.sample_hz <= 0 || l.sample_hz > 1000) {
    return LinuxFieldError(source, "guest.sample_hz", absl::StrCat(l.sample_hz, " is out of range"), "use 1 to 1000");
  }
  return l;
}

}  // namespace

absl::StatusOr<GuestSpec> ProfileReader::ReadGuest(const YAML::Node& g,
                                                   const std::string& field) const {
  RETURN_IF_ERROR(CheckMap(g, field, GuestKeys()));
  GuestSpec spec;
  if (g["workload"]) {
    ASSIGN_OR_RETURN(spec.workload, String(g["workload"], field + ".workload"));
    if (spec.workload != "idle" && spec.workload != "spin" && spec.workload != "torture") {
      return Error(g["workload"], field + ".workload",
                   absl::StrCat("'", Excerpt(spec.workload),
                                "' is not a workload; use idle, spin or torture"));
    }
  }
  if (g["ops_per_vcpu"]) {
    ASSIGN_OR_RETURN(int ops, Int(g["ops_per_vcpu"], field + ".ops_per_vcpu", 0, 1000000000));
    spec.ops_per_vcpu = static_cast<uint64_t>(ops);
  }
  if (g["ring"] && !(g["ring"].IsScalar() && g["ring"].Scalar() == "auto")) {
    ASSIGN_OR_RETURN(spec.ring, Int(g["ring"], field + ".ring", 0, 3));
    if (spec.ring != 0 && spec.ring != 3) {
      return Error(g["ring"], field + ".ring",
                   "use auto (the default: 3 on kvm_pvm, 0 on VMX/SVM), 3 (the op loop in "
                   "user mode, fast on kvm_pvm) or 0 (kernel mode)");
    }
  }
  if (g["nthreads"]) {
    ASSIGN_OR_RETURN(spec.nthreads, Int(g["nthreads"], field + ".nthreads", 0, 256));
  }
  if (g["weights"]) {
    const YAML::Node w = g["weights"];
    RETURN_IF_ERROR(CheckMap(w, field + ".weights", WeightKeys()));
    const std::vector<KeySpec>& keys = WeightKeys();
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!w[keys[i].key]) continue;
      ASSIGN_OR_RETURN(spec.weights[i], Int(w[keys[i].key], Join(field + ".weights", keys[i].key),
                                            0, 1000000));
    }
  }
  if (g["stress"]) {
    const YAML::Node st = g["stress"];
    RETURN_IF_ERROR(CheckMap(st, field + ".stress", StressKeys()));
    if (st["cpu"]) {
      ASSIGN_OR_RETURN(spec.stress_cpu, Int(st["cpu"], field + ".stress.cpu", 0, 1024));
    }
    if (st["io"]) {
      ASSIGN_OR_RETURN(spec.stress_io, Int(st["io"], field + ".stress.io", 0, 1024));
    }
    if (st["vm"]) {
      ASSIGN_OR_RETURN(spec.stress_vm, Int(st["vm"], field + ".stress.vm", 0, 1024));
    }
    if (st["vm_bytes"]) {
      ASSIGN_OR_RETURN(std::string text, String(st["vm_bytes"], field + ".stress.vm_bytes"));
      absl::StatusOr<uint64_t> bytes = ParseMemorySize(text);
      if (!bytes.ok()) return Error(st["vm_bytes"], field + ".stress.vm_bytes", std::string(bytes.status().message()));
      if (*bytes < 4096 || *bytes % 4096 != 0) {
        return Error(st["vm_bytes"], field + ".stress.vm_bytes",
                     "use a multiple of 4K, at least 4K; e.g. 16M");
      }
      spec.stress_vm_bytes = *bytes;
    }
    if (st["io_dir"]) {
      ASSIGN_OR_RETURN(spec.io_scratch_dir, String(st["io_dir"], field + ".stress.io_dir"));
    }
  }
  if (g["csd_timeout"]) {
    ASSIGN_OR_RETURN(spec.csd_timeout, PositiveDuration(g["csd_timeout"], field + ".csd_timeout"));
  }
  if (g["soft_lockup"]) {
    ASSIGN_OR_RETURN(spec.soft_lockup_threshold,
                     PositiveDuration(g["soft_lockup"], field + ".soft_lockup"));
  }
  if (g["csd_resend"]) {
    ASSIGN_OR_RETURN(spec.csd_resend, Bool(g["csd_resend"], field + ".csd_resend"));
  }
  if (g["stat_interval"]) {
    ASSIGN_OR_RETURN(spec.stat_interval, PositiveDuration(g["stat_interval"], field + ".stat_interval"));
  }
  if (g["seed"]) {
    uint64_t seed = 0;
    if (!g["seed"].IsScalar() || !absl::SimpleAtoi(g["seed"].Scalar(), &seed)) {
      return Error(g["seed"], field + ".seed", "expected a whole number >= 0; e.g. seed: 42");
    }
    spec.seed = seed;
  }
  if (g["fault"]) {
    const YAML::Node f = g["fault"];
    RETURN_IF_ERROR(CheckMap(f, field + ".fault", FaultKeys()));
    if (f["vcpu"]) {
      if (f["vcpu"].IsScalar() && f["vcpu"].Scalar() == "all") {
        spec.fault_vcpu = -1;
      } else {
        ASSIGN_OR_RETURN(spec.fault_vcpu,
                         Int(f["vcpu"], field + ".fault.vcpu", 0, 255));
      }
    }
    if (f["drop_ipi_fraction"]) {
      const YAML::Node n = f["drop_ipi_fraction"];
      double v = 0;
      if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || !(v >= 0 && v <= 1)) {
        return Error(n, field + ".fault.drop_ipi_fraction",
                     "expected a fraction from 0 to 1; e.g. 0.01 drops one IPI in a hundred");
      }
      spec.drop_ipi_fraction = v;
    }
    if (f["handler_delay"]) {
      ASSIGN_OR_RETURN(spec.handler_delay,
                       PositiveDuration(f["handler_delay"], field + ".fault.handler_delay"));
    }
  }
  spec.stress_cpu = ScaleCount(spec.stress_cpu, opts_.scale);
  spec.stress_io = ScaleCount(spec.stress_io, opts_.scale);
  spec.stress_vm = ScaleCount(spec.stress_vm, opts_.scale);
  spec.stress_vm_bytes = ScaleBytes(spec.stress_vm_bytes, opts_.scale);
  ASSIGN_OR_RETURN(spec.linux, ReadLinuxFields(g, source_));
  return spec;
}

absl::StatusOr<ReproduceSpec> ProfileReader::ReadReproduce(const YAML::Node& r) const {
  RETURN_IF_ERROR(CheckMap(r, "reproduce", ReproduceKeys()));
  ReproduceSpec spec;
  spec.present = true;
  ASSIGN_OR_RETURN(spec.scenario, String(r["scenario"], "reproduce.scenario"));
  if (spec.scenario.empty()) {
    return Error(r["scenario"], "reproduce.scenario",
                 "name the scenario this profile is for; e.g. scenario: pvspinlock-kick");
  }
  if (r["buggy_budget"]) {
    ASSIGN_OR_RETURN(spec.buggy_budget,
                     PositiveDuration(r["buggy_budget"], "reproduce.buggy_budget"));
  }
  if (r["fixed_budget"]) {
    ASSIGN_OR_RETURN(spec.fixed_budget,
                     PositiveDuration(r["fixed_budget"], "reproduce.fixed_budget"));
  }
  if (r["fixed_operations"]) {
    ASSIGN_OR_RETURN(int ops, Int(r["fixed_operations"], "reproduce.fixed_operations", 0,
                                  2000000000));
    spec.fixed_operations = ops;
  }
  if (r["seed"]) {
    uint64_t seed = 0;
    if (!r["seed"].IsScalar() || !absl::SimpleAtoi(r["seed"].Scalar(), &seed)) {
      return Error(r["seed"], "reproduce.seed", "expected a whole number >= 0; e.g. seed: 1");
    }
    spec.seed = seed;
  }
  if (r["threshold"]) {
    ASSIGN_OR_RETURN(spec.threshold, PositiveDuration(r["threshold"], "reproduce.threshold"));
  }
  if (r["pvspinlock"]) {
    const YAML::Node p = r["pvspinlock"];
    RETURN_IF_ERROR(CheckMap(p, "reproduce.pvspinlock", PvSpinlockKeys()));
    if (p["spin_loops"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.spin_loops,
                       Int(p["spin_loops"], "reproduce.pvspinlock.spin_loops", 1, 1 << 24));
    }
    if (p["holder"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.holder, Int(p["holder"], "reproduce.pvspinlock.holder", 0, 63));
    }
    if (p["irq_vcpu"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.irq_vcpu,
                       Int(p["irq_vcpu"], "reproduce.pvspinlock.irq_vcpu", 0, 63));
    }
    if (p["task_vcpu"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.task_vcpu,
                       Int(p["task_vcpu"], "reproduce.pvspinlock.task_vcpu", 0, 63));
    }
    if (p["hold"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.hold, PositiveDuration(p["hold"], "reproduce.pvspinlock.hold"));
    }
    if (p["think"]) {
      ASSIGN_OR_RETURN(spec.pvspinlock.think, PositiveDuration(p["think"], "reproduce.pvspinlock.think"));
    }
    if (p["irq_fraction"]) {
      const YAML::Node n = p["irq_fraction"];
      double v = 0;
      if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || !(v > 0 && v <= 1)) {
        return Error(n, "reproduce.pvspinlock.irq_fraction",
                     "expected a fraction above 0, at most 1; e.g. 0.5 raises the io "
                     "interrupt in half of the holder's rounds");
      }
      spec.pvspinlock.irq_fraction = v;
    }
    if (spec.pvspinlock.holder == spec.pvspinlock.irq_vcpu || spec.pvspinlock.holder == spec.pvspinlock.task_vcpu ||
        spec.pvspinlock.irq_vcpu >= spec.pvspinlock.task_vcpu) {
      return Error(p, "reproduce.pvspinlock",
                   absl::StrFormat("holder %d, irq_vcpu %d, task_vcpu %d: use three different "
                                   "vCPUs with irq_vcpu < task_vcpu (the seed's CPU n-# is "
                                   "the first waiter in CPU order); e.g. 0, 1, 2",
                                   spec.pvspinlock.holder, spec.pvspinlock.irq_vcpu, spec.pvspinlock.task_vcpu));
    }
  }
  if (r["wakelist"]) RETURN_IF_ERROR(ReadWakelist(r, &spec));
  if (r["lost_host_ipi"]) RETURN_IF_ERROR(ReadLostHostIpi(r, &spec));
  if (r["offline"]) {
    const YAML::Node o = r["offline"];
    RETURN_IF_ERROR(CheckMap(o, "reproduce.offline", OfflineKeys()));
    if (o["target"]) {
      ASSIGN_OR_RETURN(spec.offline.target, Int(o["target"], "reproduce.offline.target", 0, 63));
    }
    if (o["offline"]) {
      ASSIGN_OR_RETURN(spec.offline.offline,
                       PositiveDuration(o["offline"], "reproduce.offline.offline"));
    }
    if (o["online"]) {
      ASSIGN_OR_RETURN(spec.offline.online, PositiveDuration(o["online"], "reproduce.offline.online"));
    }
    if (o["dying_window"]) {
      ASSIGN_OR_RETURN(spec.offline.dying_window,
                       PositiveDuration(o["dying_window"], "reproduce.offline.dying_window"));
    }
    if (o["tick"]) {
      ASSIGN_OR_RETURN(spec.offline.tick, PositiveDuration(o["tick"], "reproduce.offline.tick"));
    }
  }
  return spec;
}

absl::Status ProfileReader::ReadWakelist(const YAML::Node& r, ReproduceSpec* spec) const {
  const YAML::Node w = r["wakelist"];
  RETURN_IF_ERROR(CheckMap(w, "reproduce.wakelist", WakelistKeys()));
  if (r["threshold"]) {
    return Error(r["threshold"], "reproduce.threshold",
                 "muxed-ipi-wakelist counts its hung-task threshold in virtual ticks; "
                 "write wakelist: {threshold_ticks: 200000} instead");
  }
  if (w["mode"]) {
    ASSIGN_OR_RETURN(spec->wakelist.mode, OrderingMode(w["mode"], "reproduce.wakelist.mode"));
  }
  if (w["cpus"]) {
    ASSIGN_OR_RETURN(spec->wakelist.cpus, Int(w["cpus"], "reproduce.wakelist.cpus", 2, 64));
  }
  if (w["buggy_model"]) {
    ASSIGN_OR_RETURN(spec->wakelist.buggy_model,
                     KernelModelText(w["buggy_model"], "reproduce.wakelist.buggy_model"));
  }
  if (w["fixed_model"]) {
    ASSIGN_OR_RETURN(spec->wakelist.fixed_model,
                     KernelModelText(w["fixed_model"], "reproduce.wakelist.fixed_model"));
  }
  if (w["threshold_ticks"]) {
    const YAML::Node n = w["threshold_ticks"];
    int64_t v = 0;
    if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v) || v < 1) {
      return Error(n, "reproduce.wakelist.threshold_ticks",
                   "expected a whole number of virtual ticks >= 1; e.g. threshold_ticks: "
                   "200000 (leave it out for the default)");
    }
    spec->wakelist.threshold_ticks = v;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ProfileReader::OrderingMode(const YAML::Node& n,
                                                        const std::string& field) const {
  ASSIGN_OR_RETURN(std::string mode, String(n, field));
  if (mode != "native" && mode != "emulated-power") {
    return Error(n, field,
                 absl::StrCat("'", Excerpt(mode),
                              "' is not a mode; use emulated-power (a seeded POWER store "
                              "buffer) or native (this machine's own ordering)"));
  }
  return mode;
}

absl::StatusOr<std::string> ProfileReader::KernelModelText(const YAML::Node& n,
                                                           const std::string& field) const {
  ASSIGN_OR_RETURN(std::string text, String(n, field));
  absl::StatusOr<hostipi::KernelModel> model = hostipi::KernelModel::Parse(text);
  if (!model.ok()) return Error(n, field, std::string(model.status().message()), QuoteOffset(n));
  return text;
}

absl::Status ProfileReader::ReadLostHostIpi(const YAML::Node& r, ReproduceSpec* spec) const {
  const YAML::Node h = r["lost_host_ipi"];
  RETURN_IF_ERROR(CheckMap(h, "reproduce.lost_host_ipi", LostHostIpiKeys()));
  if (r["threshold"]) {
    return Error(r["threshold"], "reproduce.threshold",
                 "lost-host-ipi counts its csd threshold in ns (native) or virtual ticks "
                 "(emulated); write lost_host_ipi: {threshold: 200000} instead");
  }
  if (h["shape"]) {
    ASSIGN_OR_RETURN(spec->lost_host_ipi.shape, Int(h["shape"], "reproduce.lost_host_ipi.shape", 1, 2));
  }
  if (h["mode"]) {
    ASSIGN_OR_RETURN(spec->lost_host_ipi.mode, OrderingMode(h["mode"], "reproduce.lost_host_ipi.mode"));
  }
  if (h["cpus"]) {
    ASSIGN_OR_RETURN(spec->lost_host_ipi.cpus, Int(h["cpus"], "reproduce.lost_host_ipi.cpus", 2, 64));
  }
  if (h["buggy_model"]) {
    ASSIGN_OR_RETURN(spec->lost_host_ipi.buggy_model,
                     KernelModelText(h["buggy_model"], "reproduce.lost_host_ipi.buggy_model"));
  }
  if (h["fixed_model"]) {
    ASSIGN_OR_RETURN(spec->lost_host_ipi.fixed_model,
                     KernelModelText(h["fixed_model"], "reproduce.lost_host_ipi.fixed_model"));
  }
  if (h["threshold"]) {
    const YAML::Node n = h["threshold"];
    int64_t v = 0;
    if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v) || v < 1) {
      return Error(n, "reproduce.lost_host_ipi.threshold",
                   "expected a whole number >= 1 (ns natively, virtual ticks emulated); "
                   "leave it out for the calibrated/default threshold");
    }
    spec->lost_host_ipi.threshold = v;
  }
  if (h["pin"]) {
    ASSIGN_OR_RETURN(std::string text, String(h["pin"], "reproduce.lost_host_ipi.pin"));
    absl::StatusOr<std::vector<int>> cpus = ParseCpuset(text);
    if (!cpus.ok()) {
      return Error(h["pin"], "reproduce.lost_host_ipi.pin",
                   absl::StrCat(cpus.status().message(), "; e.g. pin: 0-1"), QuoteOffset(h["pin"]));
    }
    spec->lost_host_ipi.pin = *cpus;
  }
  return absl::OkStatus();
}

absl::Status ProfileReader::CheckReproduceAgainstVms(const YAML::Node& root,
                                                     const RunSpec& spec,
                                                     const ReproduceSpec& r) const {
  if (!r.present) return absl::OkStatus();
  for (const VmSpec& vm : spec.vms) {
    if (vm.vcpus > 64) {
      return Error(root["reproduce"], "reproduce",
                   absl::StrFormat("VM %s has %d vCPUs; reproduce scenarios take at most 64",
                                   vm.name, vm.vcpus));
    }
    const int top = std::max({r.pvspinlock.holder, r.pvspinlock.irq_vcpu, r.pvspinlock.task_vcpu});
    if (root["reproduce"]["pvspinlock"] && top >= vm.vcpus) {
      return Error(root["reproduce"]["pvspinlock"], "reproduce.pvspinlock",
                   absl::StrFormat("VM %s has only %d vCPUs but vCPU %d is named; use vCPUs "
                                   "0 to %d or raise vcpus",
                                   vm.name, vm.vcpus, top, vm.vcpus - 1));
    }
    if (root["reproduce"]["offline"] && (r.offline.target >= vm.vcpus || vm.vcpus < 2)) {
      return Error(root["reproduce"]["offline"], "reproduce.offline.target",
                   absl::StrFormat("VM %s has %d vCPUs; the target must be one of 0 to %d and "
                                   "at least one other vCPU must call it",
                                   vm.name, vm.vcpus, vm.vcpus - 1));
    }
  }
  return absl::OkStatus();
}

absl::Status ProfileReader::ReadHostStress(const YAML::Node& h, RunSpec* spec) const {
  RETURN_IF_ERROR(CheckMap(h, "host_stress", HostStressKeys()));
  HostStressSpec& hs = spec->host_stress;
  hs.enabled = true;
  if (h["cpu"]) {
    ASSIGN_OR_RETURN(hs.cpu, Int(h["cpu"], "host_stress.cpu", 0, 4096));
  }
  if (h["io"]) {
    ASSIGN_OR_RETURN(hs.io, Int(h["io"], "host_stress.io", 0, 4096));
  }
  if (h["vm"]) {
    ASSIGN_OR_RETURN(hs.vm, Int(h["vm"], "host_stress.vm", 0, 4096));
  }
  if (h["vm_bytes"]) {
    const YAML::Node n = h["vm_bytes"];
    ASSIGN_OR_RETURN(std::string text, String(n, "host_stress.vm_bytes"));
    absl::StatusOr<uint64_t> bytes = ParseMemorySize(text);
    if (!bytes.ok()) return Error(n, "host_stress.vm_bytes", std::string(bytes.status().message()));
    if (*bytes < 4096) return Error(n, "host_stress.vm_bytes", "use at least 4K; e.g. 256M");
    hs.vm_bytes = *bytes;
  }
  if (hs.cpu + hs.io + hs.vm == 0) {
    return Error(h, "host_stress",
                 "no stressor: give at least one of cpu, io, vm (or drop the section)");
  }
  if (h["cpuset"]) {
    ASSIGN_OR_RETURN(hs.cpus_as_written, Cpuset(h["cpuset"], "host_stress.cpuset", "cpuset"));
    ASSIGN_OR_RETURN(hs.cpus, ToHost(h["cpuset"], "host_stress.cpuset", hs.cpus_as_written));
  }
  hs.cpu = ScaleCount(hs.cpu, opts_.scale);
  hs.io = ScaleCount(hs.io, opts_.scale);
  hs.vm = ScaleCount(hs.vm, opts_.scale);
  hs.vm_bytes = ScaleBytes(hs.vm_bytes, opts_.scale);
  return absl::OkStatus();
}

absl::Status ProfileReader::CheckGuestAgainstVms(const YAML::Node& root,
                                                 const RunSpec& spec) const {
  for (size_t i = 0; i < spec.vms.size(); ++i) {
    const VmSpec& vm = spec.vms[i];
    const GuestSpec& g = spec.GuestFor(vm.name);
    // The guest section that applies: the VM's own, else the run's.
    const bool own = spec.vm_guest.count(vm.name) > 0;
    const YAML::Node gnode = own ? root["vms"][i]["guest"] : root["guest"];
    const std::string gfield = own ? Join(Index("vms", i), "guest") : "guest";
    if (g.nthreads > vm.vcpus) {
      return Error(gnode["nthreads"], gfield + ".nthreads",
                   absl::StrFormat("VM %s has only %d vCPUs; use 0 (every vCPU) to %d", vm.name,
                                   vm.vcpus, vm.vcpus));
    }
    if (g.fault_vcpu >= vm.vcpus) {
      return Error(gnode["fault"]["vcpu"], gfield + ".fault.vcpu",
                   absl::StrFormat("VM %s has only %d vCPUs; use 0 to %d or 'all'", vm.name,
                                   vm.vcpus, vm.vcpus - 1));
    }
    // Per-VM RAM: the SMP area (256 KiB of status and message slots, then
    // vcpus^2 * 64 bytes of csds) from 16 MiB up, 2 MiB aligned, then the
    // vm workers (guest/abi.h SmpHeapBase).
    uint64_t csd_end = (16ull << 20) + (256ull << 10) +
                       static_cast<uint64_t>(vm.vcpus) * vm.vcpus * 64;
    csd_end = (csd_end + (2ull << 20) - 1) & ~((2ull << 20) - 1);
    uint64_t need = csd_end + static_cast<uint64_t>(g.stress_vm) * g.stress_vm_bytes;
    if (g.workload == "torture" && need > std::min<uint64_t>(vm.memory_bytes, 3ull << 30)) {
      return Error(gnode, gfield + ".stress",
                   absl::StrFormat("VM %s needs %d MiB of RAM below 3 GiB for this guest "
                                   "workload but has %d MiB; raise its memory or lower "
                                   "stress.vm / stress.vm_bytes (kvmbed soak --scale F "
                                   "scales them, e.g. --scale 0.25)",
                                   vm.name, (need >> 20) + 1,
                                   std::min<uint64_t>(vm.memory_bytes, 3ull << 30) >> 20));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<HostIpiSpec> ProfileReader::ReadHostIpi(const YAML::Node& h) const {
  RETURN_IF_ERROR(CheckMap(h, "hostipi", HostIpiKeys()));
  HostIpiSpec spec;
  spec.enabled = true;  // a section without `enabled:` asks for the plane
  if (h["enabled"]) {
    ASSIGN_OR_RETURN(spec.enabled, Bool(h["enabled"], "hostipi.enabled"));
  }
  if (h["kernel_model"]) {
    ASSIGN_OR_RETURN(spec.kernel_model, String(h["kernel_model"], "hostipi.kernel_model"));
    absl::StatusOr<hostipi::KernelModel> km = hostipi::KernelModel::Parse(spec.kernel_model);
    if (!km.ok()) {
      return Error(h["kernel_model"], "hostipi.kernel_model", std::string(km.status().message()));
    }
  }
  if (h["ordering"]) {
    ASSIGN_OR_RETURN(spec.ordering, OrderingMode(h["ordering"], "hostipi.ordering"));
  }
  if (h["store_hold"]) {
    ASSIGN_OR_RETURN(spec.store_hold, PositiveDuration(h["store_hold"], "hostipi.store_hold"));
    if (spec.store_hold > absl::Seconds(1)) {
      return Error(h["store_hold"], "hostipi.store_hold",
                   "longer than 1s; a store buffer holds a store for microseconds to "
                   "milliseconds, e.g. store_hold: 1ms");
    }
    if (spec.ordering != "emulated-power") {
      return Error(h["store_hold"], "hostipi.store_hold",
                   "only means something with ordering: emulated-power; add it or drop "
                   "store_hold");
    }
  }
  if (h["senders"]) {
    const YAML::Node s = h["senders"];
    RETURN_IF_ERROR(CheckMap(s, "hostipi.senders", HostIpiSenderKeys()));
    if (s["ksmd_threads"]) {
      ASSIGN_OR_RETURN(spec.ksmd_threads,
                       Int(s["ksmd_threads"], "hostipi.senders.ksmd_threads", 0, 8));
    }
    if (s["ksmd_cpus"]) {
      ASSIGN_OR_RETURN(std::vector<int> cpus,
                       Cpuset(s["ksmd_cpus"], "hostipi.senders.ksmd_cpus", "host CPUs"));
      ASSIGN_OR_RETURN(spec.ksmd_cpus, ToHost(s["ksmd_cpus"], "hostipi.senders.ksmd_cpus", cpus));
    }
    if (s["ksmd_pause"]) {
      ASSIGN_OR_RETURN(spec.ksmd_pause,
                       PositiveDuration(s["ksmd_pause"], "hostipi.senders.ksmd_pause"));
    }
    if (s["vcpu_exit_calls"]) {
      ASSIGN_OR_RETURN(spec.vcpu_exit_calls,
                       Bool(s["vcpu_exit_calls"], "hostipi.senders.vcpu_exit_calls"));
    }
    for (const char* key : {"exit_call_probability", "resched_fraction"}) {
      if (!s[key]) continue;
      const YAML::Node n = s[key];
      double v = 0;
      if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || !(v >= 0 && v <= 1)) {
        return Error(n, absl::StrCat("hostipi.senders.", key),
                     "expected a fraction from 0 to 1; e.g. 0.5");
      }
      (std::string(key) == "resched_fraction" ? spec.resched_fraction
                                              : spec.exit_call_probability) = v;
    }
    if (spec.ksmd_threads == 0 && !spec.vcpu_exit_calls) {
      return Error(s, "hostipi.senders",
                   "no ksmd thread and vcpu_exit_calls off: nobody would send; set "
                   "ksmd_threads: 1 or vcpu_exit_calls: true");
    }
  }
  if (h["stall_threshold"]) {
    ASSIGN_OR_RETURN(spec.stall_threshold,
                     PositiveDuration(h["stall_threshold"], "hostipi.stall_threshold"));
  }
  if (h["resend_on_stall"]) {
    ASSIGN_OR_RETURN(spec.resend_on_stall, Bool(h["resend_on_stall"], "hostipi.resend_on_stall"));
  }
  if (h["seed"]) {
    uint64_t seed = 0;
    if (!h["seed"].IsScalar() || !absl::SimpleAtoi(h["seed"].Scalar(), &seed)) {
      return Error(h["seed"], "hostipi.seed", "expected a whole number >= 0; e.g. seed: 1");
    }
    spec.seed = seed;
  }
  return spec;
}

}  // namespace

uint64_t HostRamBytes() {
  struct sysinfo info;
  if (sysinfo(&info) != 0) return 0;
  return static_cast<uint64_t>(info.totalram) * info.mem_unit;
}

std::vector<int> FoldCpus(const std::vector<int>& profile_cpus,
                          const std::vector<int>& host_cpus) {
  std::set<int> out;
  if (host_cpus.empty()) return {};
  for (int c : profile_cpus) {
    out.insert(host_cpus[static_cast<size_t>(c) % host_cpus.size()]);
  }
  return std::vector<int>(out.begin(), out.end());
}

absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text) {
  std::string t(absl::StripAsciiWhitespace(text));
  size_t digits = 0;
  while (digits < t.size() && absl::ascii_isdigit(t[digits])) ++digits;
  constexpr char kHint[] =
      "write bytes or a number with K, M, G or T "
      "(binary: 1K = 1024), e.g. 64M or 4G";
  if (digits == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", Excerpt(t), "' is not a memory size; ", kHint));
  }
  uint64_t number = 0;
  if (!absl::SimpleAtoi(t.substr(0, digits), &number)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", Excerpt(t), "' is too large; ", kHint));
  }
  std::string unit = t.substr(digits);
  static const auto* units = new std::map<std::string, int>{
      {"", 0},     {"B", 0},  {"K", 10},   {"k", 10},  {"KiB", 10},
      {"M", 20},   {"m", 20}, {"MiB", 20}, {"G", 30},  {"g", 30},
      {"GiB", 30}, {"T", 40}, {"t", 40},   {"TiB", 40}};
  auto it = units->find(unit);
  if (it == units->end()) {
    std::string upper = absl::AsciiStrToUpper(unit);
    if (upper == "KB" || upper == "MB" || upper == "GB" || upper == "TB") {
      return absl::InvalidArgumentError(absl::StrFormat(
          "'%s': the unit %s is ambiguous (powers of 1000 or 1024); write "
          "%d%c for binary units (1%c = 2^%d bytes)",
          Excerpt(t), unit, number, upper[0], upper[0],
          upper[0] == 'K'   ? 10
          : upper[0] == 'M' ? 20
          : upper[0] == 'G' ? 30
                            : 40));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("'", Excerpt(t), "' has an unknown unit '", Excerpt(unit), "'; ", kHint));
  }
  int shift = it->second;
  if (number == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory must be larger than 0; ", kHint));
  }
  if (shift > 0 && number > (~uint64_t{0} >> shift)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", Excerpt(t), "' is too large; ", kHint));
  }
  uint64_t bytes = number << shift;
  if (bytes % 4096 != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d bytes is not a whole number of 4 KiB pages; round it, e.g. to "
        "%d bytes",
        bytes, (bytes + 4095) / 4096 * 4096));
  }
  return bytes;
}

std::string FormatMemorySize(uint64_t bytes) {
  static const char kSuffix[] = {'T', 'G', 'M', 'K'};
  for (int i = 0; i < 4; ++i) {
    int shift = 40 - 10 * i;
    uint64_t unit = uint64_t{1} << shift;
    if (bytes != 0 && bytes % unit == 0) {
      return absl::StrCat(bytes >> shift, std::string(1, kSuffix[i]));
    }
  }
  return absl::StrCat(bytes);
}

std::string FormatRunSpec(const RunSpec& spec) {
  std::string out = absl::StrFormat(
      "run %s (%s): %s, host CPUs %s%s\n", spec.name, spec.source,
      absl::FormatDuration(spec.duration),
      spec.host_cpus.empty() ? "unchecked" : FormatCpuset(spec.host_cpus),
      spec.cpus_folded ? ", profile CPUs folded (--fold-cpus)" : "");
  for (const VmSpec& vm : spec.vms) {
    absl::StrAppendFormat(
        &out, "  VM %s: %d vCPUs (sockets=%d cores=%d threads=%d), memory %s\n",
        vm.name, vm.vcpus, vm.topology.sockets, vm.topology.cores,
        vm.topology.threads, FormatMemorySize(vm.memory_bytes));
    // The profile's (unfolded) CPUs per vCPU, for folded runs.
    std::vector<std::vector<int>> written(vm.vcpus);
    for (const VcpuPin& pin : vm.vcpupin_as_written) {
      for (int v : pin.vcpus) {
        if (v >= 0 && v < vm.vcpus) written[v] = pin.cpus;
      }
    }
    for (int v = 0; v < vm.vcpus;) {
      int w = v;
      auto same = [&](int a, int b) {
        return vm.vcpu_affinity[a] == vm.vcpu_affinity[b] &&
               vm.vcpu_pinned[a] == vm.vcpu_pinned[b] &&
               written[a] == written[b];
      };
      while (w + 1 < vm.vcpus && same(v, w + 1)) ++w;
      std::string who =
          w == v ? absl::StrCat("vCPU ", v) : absl::StrCat("vCPUs ", v, "-", w);
      std::string cpus =
          vm.vcpu_affinity[v].empty()
              ? std::string("any CPU")
              : absl::StrCat("CPUs ", FormatCpuset(vm.vcpu_affinity[v]));
      absl::StrAppend(&out, "    ", who, vm.vcpu_pinned[v] ? "" : " unpinned",
                      ": ", cpus);
      if (spec.cpus_folded && vm.vcpu_pinned[v]) {
        absl::StrAppend(&out, " (profile: ", FormatCpuset(written[v]), ")");
      }
      absl::StrAppend(&out, "\n");
      v = w + 1;
    }
    if (!vm.emulatorpin_as_written.empty()) {
      absl::StrAppend(&out, "    emulator threads: CPUs ",
                      FormatCpuset(vm.emulator_affinity));
      if (spec.cpus_folded) {
        absl::StrAppend(
            &out, " (profile: ", FormatCpuset(vm.emulatorpin_as_written), ")");
      }
      absl::StrAppend(&out, "\n");
    }
  }
  return out;
}

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
  ProfileReader reader(source_name, opts, std::move(host));
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
