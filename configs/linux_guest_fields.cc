// The Linux guest fields of a `guest:` section (LinuxGuestSpec; read by
// runner/linux_run.cc, documented in docs/linux-guests.md). Errors are
// positioned like every other profile error: file:line:col: field: what;
// fix.
#include "configs/profile_reader.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/input.h"
#include "base/status_macros.h"

namespace kvmbed {
namespace profile_internal {
namespace {

const std::vector<KeySpec>& WithholdKeys() {
  static const auto* keys = new std::vector<KeySpec>{
      {"vcpu", true, "vcpu: 1"},
      {"after", false, "after: 2s"},
      {"for", false, "for: 40s"},
  };
  return *keys;
}

}  // namespace

absl::StatusOr<LinuxGuestSpec> GuestReader::ReadLinuxFields(const YAML::Node& g,
                                                              const std::string& field) const {
  // A duration >= 0 with a unit (0s is allowed: e.g. withhold after 0s).
  auto duration = [&](const YAML::Node& n, const std::string& f) -> absl::StatusOr<absl::Duration> {
    absl::Duration d;
    if (!n.IsScalar() || !absl::ParseDuration(n.Scalar(), &d) || d < absl::ZeroDuration() ||
        d == absl::InfiniteDuration()) {
      return Error(n, f,
                   absl::StrCat("expected a duration with a unit, got ", KindOf(n),
                                "; write e.g. 5s or 500ms"));
    }
    return d;
  };
  LinuxGuestSpec l;
  if (g["kernel"]) {
    l.present = true;
    ASSIGN_OR_RETURN(l.kernel, String(g["kernel"], Join(field, "kernel")));
  }
  if (g["initrd"]) {
    ASSIGN_OR_RETURN(l.initrd, String(g["initrd"], Join(field, "initrd")));
  }
  if (g["cmdline"]) {
    ASSIGN_OR_RETURN(l.cmdline, String(g["cmdline"], Join(field, "cmdline")));
  }
  if (g["system_map"]) {
    ASSIGN_OR_RETURN(l.system_map, String(g["system_map"], Join(field, "system_map")));
  }
  if (g["commands"]) {
    const YAML::Node c = g["commands"];
    const std::string cfield = Join(field, "commands");
    if (!c.IsSequence()) {
      return Error(c, cfield,
                   absl::StrCat("expected a list of shell lines, got ", KindOf(c),
                                "; write e.g. commands: [\"stress-ng --cpu 4 -t 10s\"]"));
    }
    for (size_t i = 0; i < c.size(); ++i) {
      ASSIGN_OR_RETURN(std::string line, String(c[i], Index(cfield, i)));
      l.commands.push_back(std::move(line));
    }
  }
  if (g["console_log"]) {
    ASSIGN_OR_RETURN(l.console_log, String(g["console_log"], Join(field, "console_log")));
  }
  if (g["timeout"]) {
    ASSIGN_OR_RETURN(l.timeout, duration(g["timeout"], Join(field, "timeout")));
  }
  if (g["csd_threshold"]) {
    ASSIGN_OR_RETURN(l.csd_threshold, duration(g["csd_threshold"], Join(field, "csd_threshold")));
  }
  if (g["sample_hz"]) {
    const YAML::Node n = g["sample_hz"];
    double v = 0;
    if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || !(v > 0 && v <= 1000)) {
      return Error(n, Join(field, "sample_hz"),
                   absl::StrCat("expected a rate in Hz above 0, at most 1000, got ", KindOf(n),
                                "; e.g. sample_hz: 20"));
    }
    l.sample_hz = v;
  }
  if (g["withhold"]) {
    const YAML::Node w = g["withhold"];
    const std::string wfield = Join(field, "withhold");
    RETURN_IF_ERROR(CheckMap(w, wfield, WithholdKeys()));
    ASSIGN_OR_RETURN(l.withhold_vcpu, Int(w["vcpu"], Join(wfield, "vcpu"), 0, kMaxVcpus - 1));
    if (w["after"]) {
      ASSIGN_OR_RETURN(l.withhold_after, duration(w["after"], Join(wfield, "after")));
    }
    if (w["for"]) {
      ASSIGN_OR_RETURN(l.withhold_for, duration(w["for"], Join(wfield, "for")));
    }
  }
  return l;
}

}  // namespace profile_internal
}  // namespace kvmbed
