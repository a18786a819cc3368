#include "watch/linux_ipi_wait.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"

namespace kvmbed {
namespace watch {

std::string IpiOwer::Why() const {
  if (vcpu < 0) return "nobody";
  if (withheld) return "withheld from KVM_RUN";
  return absl::StrFormat("call-function IPI pending for %.1f s", pending_s);
}

IpiWaitTracker::IpiWaitTracker(int vcpus, IpiWaitOptions options)
    : options_(std::move(options)), v_(vcpus > 0 ? vcpus : 0) {}

std::vector<IpiWaitVerdict> IpiWaitTracker::Feed(absl::Time now,
                                                 const std::vector<VcpuIpiSample>& vcpus) {
  now_ = now;
  const size_t n = std::min(vcpus.size(), v_.size());
  // First what every vCPU owes, so that a wait judged below sees this
  // sample's state of all the others.
  for (size_t i = 0; i < n; ++i) {
    const VcpuIpiSample& s = vcpus[i];
    PerVcpu& p = v_[i];
    p.withheld = s.withheld;
    if (s.withheld) p.last_withheld = now;
    if (!s.answered) continue;  // no registers, no IRR: nothing learnt
    if (!s.call_function_pending) {
      p.pending_since = absl::InfiniteFuture();
    } else if (p.pending_since == absl::InfiniteFuture()) {
      p.pending_since = now;
    }
  }
  std::vector<IpiWaitVerdict> out;
  for (size_t i = 0; i < n; ++i) {
    const VcpuIpiSample& s = vcpus[i];
    PerVcpu& p = v_[i];
    if (s.answered && s.in_ipi_wait) {
      if (p.wait_since == absl::InfiniteFuture()) p.wait_since = now;
      p.last_in_wait = now;
      p.where = s.where;
    } else if (p.wait_since != absl::InfiniteFuture() && now - p.last_in_wait > options_.grace) {
      p.wait_since = absl::InfiniteFuture();
      p.reported_long = false;
      p.reported_csd = false;
    }
    if (p.wait_since == absl::InfiniteFuture() || now - p.wait_since < options_.threshold) continue;
    const IpiOwer owed = Owing(static_cast<int>(i));
    IpiWaitVerdict v;
    v.waiter = static_cast<int>(i);
    v.waited_s = absl::ToDoubleSeconds(p.last_in_wait - p.wait_since);
    v.where = p.where;
    v.owed_by = owed;
    if (owed.vcpu >= 0 && !p.reported_csd) {
      v.kind = "csd";
      v.fatal = true;
      p.reported_csd = true;
      p.reported_long = true;
      out.push_back(std::move(v));
    } else if (owed.vcpu < 0 && !p.reported_long) {
      v.kind = "ipi_wait_long";
      p.reported_long = true;
      out.push_back(std::move(v));
    }
  }
  return out;
}

IpiOwer IpiWaitTracker::Owing(int self) const {
  IpiOwer best;
  for (size_t i = 0; i < v_.size(); ++i) {
    if (static_cast<int>(i) == self || !v_[i].withheld) continue;
    best.vcpu = static_cast<int>(i);
    best.withheld = true;
    return best;
  }
  for (size_t i = 0; i < v_.size(); ++i) {
    if (static_cast<int>(i) == self || v_[i].pending_since == absl::InfiniteFuture()) continue;
    const absl::Duration pending = now_ - v_[i].pending_since;
    if (pending < options_.owed_after) continue;
    if (best.vcpu < 0 || absl::ToDoubleSeconds(pending) > best.pending_s) {
      best.vcpu = static_cast<int>(i);
      best.pending_s = absl::ToDoubleSeconds(pending);
    }
  }
  return best;
}

absl::Time IpiWaitTracker::LastWithheld(int vcpu) const {
  if (vcpu < 0 || vcpu >= static_cast<int>(v_.size())) return absl::InfinitePast();
  return v_[vcpu].last_withheld;
}

}  // namespace watch
}  // namespace kvmbed
