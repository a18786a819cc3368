// Which of the seed fixes a modelled POWER host kernel has applied.
//
// The host-IPI protocol has four barrier/read sites whose choice decides
// whether an IPI can be lost (see README.md "Kernel model"):
//   mb-before-set   smp_mb() at the start of kvmppc_set_host_ipi()  (3a83f677)
//   mb-after-clear  smp_mb() after kvmppc_clear_host_ipi()'s store  (3a83f677)
//   demux           how smp_ipi_demux_relaxed() reads ipi_message:
//                   xchg (fully ordered, 9fb1b36), xchg-relaxed (xchg_local
//                   before 9fb1b36), peek (a plain load of the messages
//                   first, and the xchg only if they are non-zero)
//   message-pass-mb smp_mb() before the message store in
//                   smp_muxed_ipi_set_message()                     (9fb1b36)
//   cause-ipi-mb    the full barrier between the message store and the
//                   IPI itself (before 9fb1b36 an mb() in the generic
//                   code, after it inside each cause_ipi()); on in every
//                   preset, off = a cause_ipi() that lacks it. Used by the
//                   muxed-ipi-wakelist scenario (wakelist.h).
// Presets name kernels; every site can be overridden on its own:
//   "v5.3,mb-after-clear=on,demux=peek".
//
// Threading: a plain value type.
#ifndef KVMBED_HOSTIPI_KERNEL_MODEL_H_
#define KVMBED_HOSTIPI_KERNEL_MODEL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"

namespace kvmbed {
namespace hostipi {

enum class DemuxRead { kXchg, kXchgRelaxed, kPeek };

inline constexpr auto kDemuxReadNames = MakeEnumNames<DemuxRead>({
    {DemuxRead::kXchg, "xchg"},
    {DemuxRead::kXchgRelaxed, "xchg-relaxed"},
    {DemuxRead::kPeek, "peek"},
});

// "xchg" / "xchg-relaxed" / "peek".
const char* DemuxReadName(DemuxRead demux);

struct KernelModel {
  std::string preset = "v5.4";
  bool mb_before_set = true;
  bool mb_after_clear = true;
  DemuxRead demux = DemuxRead::kXchg;
  bool message_pass_mb = true;
  bool cause_ipi_mb = true;

  // Parses "<preset>[,<site>=<value>]...", e.g. "v5.3,demux=peek". Errors
  // name the offending item and list what is accepted.
  static absl::StatusOr<KernelModel> Parse(absl::string_view text);
  // The named preset with no overrides.
  static absl::StatusOr<KernelModel> Preset(absl::string_view name);
  // Parse() of a model string built into the program (a default); aborts,
  // naming it, if it does not parse.
  static KernelModel Known(absl::string_view text);
  // Names of the presets, oldest first.
  static std::vector<std::string> PresetNames();

  // Canonical, parseable form: the preset plus only the sites that differ
  // from it, e.g. "v5.4,mb-after-clear=off,demux=peek".
  std::string ToString() const;
  // Every site spelled out, e.g. "mb-before-set=on mb-after-clear=off
  // demux=peek message-pass-mb=on" (cause-ipi-mb only when off, so the
  // host_ipi scenario's output is unchanged).
  std::string Describe() const;

  bool operator==(const KernelModel& o) const {
    return mb_before_set == o.mb_before_set &&
           mb_after_clear == o.mb_after_clear && demux == o.demux &&
           message_pass_mb == o.message_pass_mb &&
           cause_ipi_mb == o.cause_ipi_mb;
  }
  bool operator!=(const KernelModel& o) const { return !(*this == o); }
};

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_KERNEL_MODEL_H_
