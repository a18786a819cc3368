// Thin RAII wrappers over the /dev/kvm ioctl API: Kvm (the system fd), Vm (a
// VM fd with the in-kernel irqchip) and Vcpu (a vCPU fd plus its mmapped
// kvm_run). Every fallible call returns absl::Status / absl::StatusOr.
//
// Threading: Kvm is immutable after Open() and may be shared. Vm's methods
// are called by the one thread that builds the VM. A Vcpu belongs to its vCPU
// thread once that thread starts, except RunState(), whose immediate_exit
// field may be written by any thread (see vmm/vcpu_thread.h).
#ifndef KVMBED_VMM_KVM_H_
#define KVMBED_VMM_KVM_H_

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kvmbed {
namespace vmm {

// Owns one file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  // The raw fd, -1 when empty.
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership.
  int Release();
  // Closes the fd (if any).
  void Reset();

 private:
  int fd_ = -1;
};

// A kvm_cpuid2 with its entries, as KVM_GET_SUPPORTED_CPUID fills it.
struct CpuidTable {
  std::vector<kvm_cpuid_entry2> entries;

  // The entry for (function, index), nullptr if absent.
  kvm_cpuid_entry2* Find(uint32_t function, uint32_t index = 0);
};

class Vm;

// Which KVM this machine offers: printed by `kvmbed run` and `bench`,
// recorded in every event log's run_start, and named in errors.
struct KvmHost {
  // "vmx" (kvm_intel), "svm" (kvm_amd), "pvm" (a paravirtual KVM without
  // VMX/SVM, e.g. kvm_pvm), "other" (a /dev/kvm of unknown kind) or "none"
  // (no usable /dev/kvm).
  std::string flavour = "none";
  // This kernel itself runs under a hypervisor (CPUID's hypervisor bit).
  bool nested = false;
  // "svm, nested", "vmx", "none", ...
  std::string Describe() const;
};

// Looks at `root`/dev/kvm, `root`/sys/module/kvm_{intel,amd,pvm} and
// `root`/proc/cpuinfo (root is "" on a real machine; tests pass a fake tree).
// tools/kvm_flavour.sh answers the same for the test runner.
KvmHost DetectKvmHost(const std::string& root = "");

// The KVM system fd.
class Kvm {
 public:
  // Opens `path` (normally /dev/kvm) and checks KVM_GET_API_VERSION == 12.
  // When it cannot be opened, the error says what to do: load kvm_intel or
  // kvm_amd, enable nested virtualisation, or run in the nested L1.
  static absl::StatusOr<std::unique_ptr<Kvm>> Open(
      const std::string& path = "/dev/kvm");
  // True when `path` exists and can be opened read-write (for test skips).
  static bool Available(const std::string& path = "/dev/kvm");

  int fd() const { return fd_.get(); }
  // KVM_CHECK_EXTENSION on the system fd; 0 when unsupported.
  int CheckExtension(int cap) const;
  // Size of the kvm_run mapping of each vCPU.
  size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
  // KVM_CAP_MAX_VCPUS (falls back to KVM_CAP_NR_VCPUS).
  int max_vcpus() const { return max_vcpus_; }
  // KVM_CAP_MAX_VCPU_ID: vcpu_ids (= APIC ids) must be below it.
  int max_vcpu_id() const { return max_vcpu_id_; }
  // The CPUID KVM supports, fetched once at Open().
  const CpuidTable& supported_cpuid() const { return supported_cpuid_; }

 private:
  Kvm() = default;
  UniqueFd fd_;
  size_t vcpu_mmap_size_ = 0;
  int max_vcpus_ = 0;
  int max_vcpu_id_ = 0;
  CpuidTable supported_cpuid_;
};

// A VM: KVM_CREATE_VM + in-kernel irqchip. Memory slots are registered by
// GuestMemory::Register (vmm/guest_memory.h).
class Vm {
 public:
  // Creates a VM with the in-kernel irqchip (PIC, IOAPIC, per-vCPU LAPIC).
  static absl::StatusOr<std::unique_ptr<Vm>> Create(const Kvm& kvm);

  int fd() const { return fd_.get(); }
  const Kvm& kvm() const { return *kvm_; }
  // KVM_CHECK_EXTENSION on the VM fd.
  int CheckExtension(int cap) const;
  // KVM_SET_USER_MEMORY_REGION for one slot.
  absl::Status SetUserMemoryRegion(uint32_t slot, uint64_t gpa, uint64_t size,
                                   void* hva);
  // KVM_GET_TSC_KHZ on the VM fd (needs KVM_CAP_VM_TSC_CONTROL).
  absl::StatusOr<uint32_t> TscKhz() const;

 private:
  explicit Vm(const Kvm* kvm) : kvm_(kvm) {}
  const Kvm* kvm_;
  UniqueFd fd_;
};

// One vCPU fd and its kvm_run mapping.
class Vcpu {
 public:
  // KVM_CREATE_VCPU(apic_id) and mmap of kvm_run. `index` is kvmbed's vCPU
  // number (0..n-1: thread name, stack, RDI); `apic_id` is KVM's vcpu_id,
  // which is also the vCPU's x2APIC id (-1: same as index).
  static absl::StatusOr<std::unique_ptr<Vcpu>> Create(const Vm& vm, int index,
                                                      int apic_id = -1);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  // kvmbed's vCPU number (0..n-1).
  int id() const { return id_; }
  // KVM vcpu_id == x2APIC id (differs from id() when the topology has gaps).
  int apic_id() const { return apic_id_; }
  int fd() const { return fd_.get(); }
  // The shared kvm_run page (exit information, immediate_exit).
  kvm_run* RunState() const { return run_; }

  absl::StatusOr<kvm_regs> GetRegs() const;
  absl::Status SetRegs(const kvm_regs& regs);
  absl::StatusOr<kvm_sregs> GetSregs() const;
  absl::Status SetSregs(const kvm_sregs& sregs);
  absl::StatusOr<kvm_mp_state> GetMpState() const;
  absl::Status SetMpState(uint32_t mp_state);
  absl::Status SetCpuid(const CpuidTable& cpuid);
  // KVM_GET_TSC_KHZ on this vCPU.
  absl::StatusOr<uint32_t> TscKhz() const;
  // One KVM_RUN. Returns the exit reason; an interrupted run (EINTR/EAGAIN:
  // a signal or immediate_exit) is reported as KVM_EXIT_INTR.
  absl::StatusOr<uint32_t> Run();

 private:
  Vcpu(int id, int apic_id, UniqueFd fd, kvm_run* run, size_t run_size)
      : id_(id), apic_id_(apic_id), fd_(std::move(fd)), run_(run), run_size_(run_size) {}
  int id_;
  int apic_id_;
  UniqueFd fd_;
  kvm_run* run_;
  size_t run_size_;
};

// Fault injection, for tests of how the VMM survives a failing KVM: makes
// the `nth` (1-based, counted process-wide from the moment it is set) call of
// one ioctl fail with `err`, once. `ioctl` is its name as in <linux/kvm.h>:
// KVM_RUN, KVM_CREATE_VM, KVM_CREATE_VCPU, KVM_SET_USER_MEMORY_REGION,
// KVM_SET_REGS, KVM_SET_SREGS, KVM_GET_REGS, KVM_GET_SREGS, KVM_SET_CPUID2,
// KVM_CREATE_IRQCHIP, KVM_GET_MP_STATE, KVM_SET_MP_STATE. The error it gives
// is the real one with "(injected by KVMBED_KVM_FAULT)" appended, so nobody
// mistakes it for a host fault.
//
// Kvm::Open() reads the environment variable KVMBED_KVM_FAULT=IOCTL:NTH:ERRNO
// (ERRNO a number or one of EIO EFAULT EINVAL ENOMEM ENXIO EBUSY EPERM), so
// the command line can be tested too; a malformed value makes Open() fail.
// Set it before any vCPU thread starts (the count itself is thread-safe).
struct IoctlFault {
  std::string ioctl;
  int64_t nth = 0;
  int err = 0;
};
// Parses "IOCTL:NTH:ERRNO".
absl::StatusOr<IoctlFault> ParseIoctlFault(const std::string& spec);
// Arms `fault` (an empty ioctl name disarms) and resets the count.
void SetIoctlFault(const IoctlFault& fault);
// True (and `*err` set) when this call of `ioctl` is the one to fail. Called
// by the wrappers before each ioctl; exposed for tests of the seam itself.
bool TakeIoctlFault(const char* ioctl, int* err);

// Host errors: a failing KVM ioctl or mmap in this wrapper, guest RAM that
// cannot be allocated, a vCPU thread that cannot be pinned. They are problems
// of the host or its environment, not something the guest did, and the
// command line exits 2 for them, never 1 ("stall found"). The mark is a
// status payload, so it survives copies of the status.
absl::Status MarkHostError(absl::Status status);
bool IsHostError(const absl::Status& status);

// "KVM_EXIT_IO" etc. for an exit reason; "KVM_EXIT_<n>" when unknown.
std::string ExitReasonName(uint32_t reason);

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_KVM_H_
