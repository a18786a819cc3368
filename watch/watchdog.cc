#include "watch/watchdog.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "vmm/elf.h"
#include "vmm/vcpu_snapshot.h"

namespace kvmbed {
namespace watch {

SoftLockupDetector::SoftLockupDetector(int num_vcpus, absl::Duration threshold)
    : threshold_(threshold), state_(num_vcpus) {}

std::vector<SoftLockup> SoftLockupDetector::Check(absl::Time now,
                                                  const std::vector<uint64_t>& beats,
                                                  const std::vector<bool>& watched) {
  std::vector<SoftLockup> out;
  for (size_t i = 0; i < state_.size() && i < beats.size(); ++i) {
    State& st = state_[i];
    bool watch = i < watched.size() && watched[i];
    bool fresh = !st.watched;
    st.watched = watch;
    if (!watch || fresh || beats[i] != st.beat) {
      st.beat = beats[i];
      st.since = now;
      st.reports = 0;
      st.stuck = false;
      continue;
    }
    absl::Duration stuck = now - st.since;
    if (stuck >= threshold_ * (st.reports + 1)) {
      out.push_back(SoftLockup{static_cast<int>(i), stuck, st.reports == 0});
      ++st.reports;
    }
    st.stuck = stuck >= threshold_;
  }
  return out;
}

std::vector<int> SoftLockupDetector::Stuck() const {
  std::vector<int> v;
  for (size_t i = 0; i < state_.size(); ++i) {
    if (state_[i].stuck) v.push_back(static_cast<int>(i));
  }
  return v;
}

std::string FormatSoftLockup(const SoftLockup& s, const vmm::VcpuSnapshot* snap,
                             const std::string& snapshot_error, const vmm::ElfImage& elf) {
  // Whole seconds as the kernel prints them once that is meaningful; our
  // calibrated thresholds are often far below a second.
  double secs = absl::ToDoubleSeconds(s.stuck_for);
  std::string t = secs >= 10 ? absl::StrCat(static_cast<int64_t>(std::floor(secs)))
                             : absl::StrFormat("%.3f", secs);
  std::string out =
      absl::StrFormat("watchdog: BUG: soft lockup - vCPU#%d stuck for %ss!\n", s.vcpu, t);
  absl::StrAppendFormat(&out, "\tstuck for %s without a heartbeat%s\n",
                        absl::FormatDuration(s.stuck_for), s.first ? "" : " (still stuck)");
  if (snap == nullptr) {
    absl::StrAppend(&out, "\tregisters unavailable: ", snapshot_error, "\n");
    return out;
  }
  absl::StrAppendFormat(&out, "\tguest: %s, %s%s\n", vmm::SmpWhereName(snap->smp.where),
                        snap->Halted() ? "halted" : "running",
                        snap->in_guest_when_asked ? ", in guest" : ", in the VMM");
  if (snap->smp.wait_csd != 0) {
    absl::StrAppendFormat(&out, "\twaiting for csd 0x%x\n", snap->smp.wait_csd);
  }
  absl::StrAppend(&out, vmm::FormatSnapshotRegisters(*snap, elf, "\t"));
  return out;
}

}  // namespace watch
}  // namespace kvmbed
