// `kvmbed profile check|import|export`.
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "configs/libvirt.h"
#include "configs/profile.h"
#include "tools/commands.h"
#include "tools/common.h"
#include "tools/flags.h"

namespace kvmbed {

int ProfileCommand(const std::vector<std::string>& args) {
  const std::string usage =
      "usage: kvmbed profile check [PROFILE.yaml] [--fold-cpus]\n"
      "       kvmbed profile import DOMAIN.xml [--output PROFILE.yaml]\n"
      "       kvmbed profile export --libvirt PROFILE.yaml [--output DOMAIN.xml]";
  if (args.empty()) return BadInput(usage);
  const std::string& verb = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (verb == "check" || verb == "import" || verb == "export") {
    absl::Status flags = OnlyFlags(
        absl::StrCat("profile ", verb),
        verb == "check"    ? std::vector<std::string>{"fold_cpus", "duration", "output"}
        : verb == "import" ? std::vector<std::string>{"output"}
                           : std::vector<std::string>{"libvirt", "output"});
    if (!flags.ok()) return BadInput(flags);
  }
  if (verb == "check") {
    absl::StatusOr<RunSpec> spec = LoadRunSpec(rest);
    if (!spec.ok()) return BadInput(spec.status());
    absl::Status st = WriteOutput(FormatRunSpec(*spec));
    return st.ok() ? kExitClean : BadInput(st);
  }
  if (verb == "import") {
    if (rest.size() != 1) return BadInput(usage);
    absl::StatusOr<std::string> yaml = ImportLibvirtDomainFile(rest[0]);
    if (!yaml.ok()) return BadInput(yaml.status());
    absl::Status st = WriteOutput(*yaml);
    return st.ok() ? kExitClean : BadInput(st);
  }
  if (verb == "export") {
    if (!absl::GetFlag(FLAGS_libvirt)) {
      return BadInput("profile export: say which format: --libvirt (the only one so far)");
    }
    if (rest.size() != 1) return BadInput(usage);
    ProfileOptions opts;
    opts.check_host_cpus = false;  // exporting needs no host
    absl::StatusOr<RunSpec> spec = LoadProfileOrShipped(rest[0], opts);
    if (!spec.ok()) return BadInput(spec.status());
    absl::StatusOr<std::string> xml = ExportLibvirtDomain(*spec, "");
    if (!xml.ok()) return BadInput(xml.status());
    absl::Status st = WriteOutput(*xml);
    return st.ok() ? kExitClean : BadInput(st);
  }
  return BadInput(absl::StrCat("profile: unknown verb '", verb, "'\n", usage));
}

}  // namespace kvmbed
