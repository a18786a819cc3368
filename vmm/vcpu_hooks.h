// The seam between a vCPU thread and the host plane (hostipi). Dependency-free
// on purpose: hostipi's glue implements VcpuHooks without depending on the rest
// of vmm/, and vmm/ never includes hostipi/.
//
// Threading: both methods are called only in the vCPU thread of `vcpu`, so a
// modelled host CPU's exit path (POWER's "check host_ipi, demux, run the
// call_single_queue") runs on that thread, exactly where the seed's does.
// Implementations must be fast and must not block on other vCPU threads
// without a timeout (that is the bug being modelled, not the harness).
#ifndef KVMBED_VMM_VCPU_HOOKS_H_
#define KVMBED_VMM_VCPU_HOOKS_H_

#include <cstdint>

namespace kvmbed {
namespace vmm {

class VcpuHooks {
 public:
  virtual ~VcpuHooks() = default;
  // After every KVM_RUN return: `exit_reason` is KVM_EXIT_* (KVM_EXIT_INTR
  // for a signal/immediate_exit), `kick_pending` says whether a Kick() was
  // pending and has now been consumed (read after immediate_exit was cleared,
  // with a full fence in between).
  virtual void AfterExit(int vcpu, uint32_t exit_reason, bool kick_pending) = 0;
  // Just before every KVM_RUN entry.
  virtual void BeforeEntry(int vcpu) = 0;
};

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_VCPU_HOOKS_H_
