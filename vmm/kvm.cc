#include "vmm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"

namespace kvmbed {
namespace vmm {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    Reset();
    fd_ = o.Release();
  }
  return *this;
}

int UniqueFd::Release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

kvm_cpuid_entry2* CpuidTable::Find(uint32_t function, uint32_t index) {
  for (auto& e : entries) {
    if (e.function != function) continue;
    if ((e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e.index != index) continue;
    return &e;
  }
  return nullptr;
}

namespace {

// <linux/kvm.h> declares kvm_cpuid2::entries with __DECLARE_FLEX_ARRAY, which
// in C++ adds a 1-byte empty struct: sizeof(kvm_cpuid2) becomes 12 instead of
// the kernel's 8, so both the ioctl numbers (they encode the size) and the
// entries offset would be wrong. Spell the C layout out ourselves.
struct CpuidHeader {
  uint32_t nent;
  uint32_t padding;
};
static_assert(sizeof(CpuidHeader) == 8, "kernel struct kvm_cpuid2 header");
constexpr unsigned long kGetSupportedCpuid =
    _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, sizeof(CpuidHeader));
constexpr unsigned long kSetCpuid2 =
    _IOC(_IOC_WRITE, KVMIO, 0x90, sizeof(CpuidHeader));

// The payload that marks a host error (MarkHostError).
constexpr char kHostErrorPayload[] = "kvmbed/host-error";

// The armed fault. A std::mutex (not absl::Mutex) so that TSan, which cannot
// see inside Debian's uninstrumented Abseil, sees the lock.
std::mutex g_fault_mu;
IoctlFault g_fault;     // guarded by g_fault_mu
int64_t g_fault_count;  // guarded by g_fault_mu
std::atomic<bool> g_fault_armed{false};
// Set by Ioctl() in the calling thread when it injected the failure.
thread_local bool t_injected = false;

// ioctl(2) through the fault-injection seam.
template <typename Arg>
int Ioctl(const char* name, int fd, unsigned long request, Arg arg) {
  int err;
  if (TakeIoctlFault(name, &err)) {
    t_injected = true;
    errno = err;
    return -1;
  }
  t_injected = false;
  return ioctl(fd, request, arg);
}

absl::Status Errno(const std::string& what) {
  const int err = errno;
  absl::Status s = absl::ErrnoToStatus(
      err, t_injected ? absl::StrCat(what, " (injected by KVMBED_KVM_FAULT)") : what);
  t_injected = false;
  return MarkHostError(std::move(s));
}

struct ErrnoName {
  const char* name;
  int value;
};
constexpr ErrnoName kFaultErrnos[] = {{"EIO", EIO},       {"EFAULT", EFAULT}, {"EINVAL", EINVAL},
                                      {"ENOMEM", ENOMEM}, {"ENXIO", ENXIO},   {"EBUSY", EBUSY},
                                      {"EPERM", EPERM}};

absl::StatusOr<CpuidTable> GetSupportedCpuid(int kvm_fd) {
  // Grow the buffer until KVM stops saying E2BIG.
  for (uint32_t n = 128; n <= 4096; n *= 2) {
    std::vector<uint8_t> buf(sizeof(CpuidHeader) + n * sizeof(kvm_cpuid_entry2));
    CpuidHeader h{n, 0};
    std::memcpy(buf.data(), &h, sizeof(h));
    if (ioctl(kvm_fd, kGetSupportedCpuid, buf.data()) == 0) {
      std::memcpy(&h, buf.data(), sizeof(h));
      CpuidTable t;
      t.entries.resize(std::min(h.nent, n));
      std::memcpy(t.entries.data(), buf.data() + sizeof(CpuidHeader),
                  t.entries.size() * sizeof(kvm_cpuid_entry2));
      return t;
    }
    if (errno != E2BIG) return Errno("KVM_GET_SUPPORTED_CPUID");
  }
  return absl::InternalError("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

}  // namespace

absl::StatusOr<IoctlFault> ParseIoctlFault(const std::string& spec) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KVMBED_KVM_FAULT=", spec.substr(0, 64), spec.size() > 64 ? "..." : "", ": ", why,
        "; give IOCTL:NTH:ERRNO, e.g. KVM_RUN:100:EIO"));
  };
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  if (parts.size() != 3) return bad("expected three fields");
  IoctlFault f;
  f.ioctl = parts[0];
  if (!absl::StartsWith(f.ioctl, "KVM_") || f.ioctl.size() > 32) return bad("not a KVM ioctl name");
  if (!absl::SimpleAtoi(parts[1], &f.nth) || f.nth < 1) return bad("NTH must be 1 or more");
  for (const ErrnoName& e : kFaultErrnos) {
    if (parts[2] == e.name) f.err = e.value;
  }
  if (f.err == 0 && (!absl::SimpleAtoi(parts[2], &f.err) || f.err < 1 || f.err > 4095)) {
    return bad("ERRNO must be a positive errno or one of EIO EFAULT EINVAL ENOMEM ENXIO EBUSY EPERM");
  }
  return f;
}

void SetIoctlFault(const IoctlFault& fault) {
  std::lock_guard<std::mutex> lock(g_fault_mu);
  g_fault = fault;
  g_fault_count = 0;
  g_fault_armed.store(!fault.ioctl.empty(), std::memory_order_release);
}

bool TakeIoctlFault(const char* ioctl, int* err) {
  if (!g_fault_armed.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> lock(g_fault_mu);
  if (g_fault.ioctl.empty() || g_fault.ioctl != ioctl) return false;
  if (++g_fault_count != g_fault.nth) return false;
  *err = g_fault.err;
  g_fault.ioctl.clear();  // once
  g_fault_armed.store(false, std::memory_order_release);
  return true;
}

absl::Status MarkHostError(absl::Status status) {
  if (!status.ok()) status.SetPayload(kHostErrorPayload, absl::Cord("1"));
  return status;
}

bool IsHostError(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kHostErrorPayload).has_value();
}

std::string KvmHost::Describe() const {
  return nested ? absl::StrCat(flavour, ", nested") : flavour;
}

KvmHost DetectKvmHost(const std::string& root) {
  KvmHost h;
  std::string cpuinfo;
  {
    std::ifstream in(root + "/proc/cpuinfo");
    std::string line;
    // The first CPU's flags line is enough: the flags are the same on all.
    while (std::getline(in, line)) {
      if (absl::StartsWith(line, "flags")) {
        cpuinfo = absl::StrCat(" ", line, " ");
        break;
      }
    }
  }
  auto has_flag = [&](const char* f) {
    return cpuinfo.find(absl::StrCat(" ", f, " ")) != std::string::npos;
  };
  auto has_module = [&](const char* m) {
    struct stat st;
    return stat(absl::StrCat(root, "/sys/module/", m).c_str(), &st) == 0 &&
           S_ISDIR(st.st_mode);
  };
  h.nested = has_flag("hypervisor");
  const std::string dev = root + "/dev/kvm";
  struct stat st;
  if (stat(dev.c_str(), &st) != 0 || access(dev.c_str(), R_OK | W_OK) != 0) return h;
  if (has_module("kvm_intel")) {
    h.flavour = "vmx";
  } else if (has_module("kvm_amd")) {
    h.flavour = "svm";
  } else if (has_module("kvm_pvm") || (!has_flag("vmx") && !has_flag("svm"))) {
    h.flavour = "pvm";
  } else {
    h.flavour = "other";
  }
  return h;
}

absl::StatusOr<std::unique_ptr<Kvm>> Kvm::Open(const std::string& path) {
  // The fault-injection seam's environment variable, read once per process.
  static const absl::Status* env_fault = [] {
    const char* spec = std::getenv("KVMBED_KVM_FAULT");
    if (spec == nullptr || *spec == '\0') return new absl::Status();
    absl::StatusOr<IoctlFault> f = ParseIoctlFault(spec);
    if (f.ok()) SetIoctlFault(*f);
    return new absl::Status(f.status());
  }();
  if (!env_fault->ok()) return *env_fault;
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return absl::FailedPreconditionError(absl::StrCat(
        "open ", path, ": ", strerror(e),
        ". kvmbed needs KVM: load kvm_intel or kvm_amd (modprobe kvm_amd) and "
        "enable virtualisation in the firmware; inside a VM, enable nested "
        "virtualisation on its host (kvm_amd nested=1 or kvm_intel nested=1); "
        "on a machine with no KVM at all, run kvmbed in a nested L1 under QEMU: "
        "tools/nested_kvm.sh -- bazel-bin/tools/kvmbed run"));
  }
  std::unique_ptr<Kvm> kvm(new Kvm());
  kvm->fd_ = UniqueFd(fd);
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": KVM_GET_API_VERSION is ", version, ", kvmbed needs ",
        KVM_API_VERSION));
  }
  if (!kvm->CheckExtension(KVM_CAP_IRQCHIP) ||
      !kvm->CheckExtension(KVM_CAP_IMMEDIATE_EXIT) ||
      !kvm->CheckExtension(KVM_CAP_EXT_CPUID) ||
      !kvm->CheckExtension(KVM_CAP_USER_MEMORY)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": KVM lacks IRQCHIP, IMMEDIATE_EXIT, EXT_CPUID or "
                           "USER_MEMORY; kvmbed needs all four"));
  }
  int size = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size <= 0) return Errno("KVM_GET_VCPU_MMAP_SIZE");
  kvm->vcpu_mmap_size_ = static_cast<size_t>(size);
  kvm->max_vcpus_ = kvm->CheckExtension(KVM_CAP_MAX_VCPUS);
  if (kvm->max_vcpus_ <= 0) kvm->max_vcpus_ = kvm->CheckExtension(KVM_CAP_NR_VCPUS);
  if (kvm->max_vcpus_ <= 0) kvm->max_vcpus_ = 4;  // KVM's documented minimum
  kvm->max_vcpu_id_ = kvm->CheckExtension(KVM_CAP_MAX_VCPU_ID);
  if (kvm->max_vcpu_id_ <= 0) kvm->max_vcpu_id_ = kvm->max_vcpus_;
  ASSIGN_OR_RETURN(kvm->supported_cpuid_, GetSupportedCpuid(fd));
  return kvm;
}

bool Kvm::Available(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  close(fd);
  return true;
}

int Kvm::CheckExtension(int cap) const {
  int r = ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

absl::StatusOr<std::unique_ptr<Vm>> Vm::Create(const Kvm& kvm) {
  std::unique_ptr<Vm> vm(new Vm(&kvm));
  int fd;
  do {
    fd = Ioctl("KVM_CREATE_VM", kvm.fd(), KVM_CREATE_VM, 0);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Errno("KVM_CREATE_VM");
  vm->fd_ = UniqueFd(fd);
  // Intel needs a TSS region below 4 GiB for real-mode emulation. We never
  // run real mode, but KVM may still insist; the pages sit just below 4 GiB,
  // inside the RAM hole (guest/abi.h), so they shadow no RAM.
  if (ioctl(fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0 && errno != EINVAL &&
      errno != ENOTTY) {
    return Errno("KVM_SET_TSS_ADDR");
  }
  if (Ioctl("KVM_CREATE_IRQCHIP", fd, KVM_CREATE_IRQCHIP, 0) < 0) return Errno("KVM_CREATE_IRQCHIP");
  return vm;
}

int Vm::CheckExtension(int cap) const {
  int r = ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

absl::Status Vm::SetUserMemoryRegion(uint32_t slot, uint64_t gpa, uint64_t size,
                                     void* hva) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = reinterpret_cast<uint64_t>(hva);
  if (Ioctl("KVM_SET_USER_MEMORY_REGION", fd_.get(), KVM_SET_USER_MEMORY_REGION, &r) < 0) {
    return Errno(absl::StrCat("KVM_SET_USER_MEMORY_REGION slot ", slot, " gpa 0x",
                              absl::Hex(gpa), " size 0x", absl::Hex(size)));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> Vm::TscKhz() const {
  int r = ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
  if (r <= 0) return Errno("KVM_GET_TSC_KHZ (vm)");
  return static_cast<uint32_t>(r);
}

absl::StatusOr<std::unique_ptr<Vcpu>> Vcpu::Create(const Vm& vm, int id,
                                                   int apic_id) {
  if (apic_id < 0) apic_id = id;
  int fd = Ioctl("KVM_CREATE_VCPU", vm.fd(), KVM_CREATE_VCPU, apic_id);
  if (fd < 0) {
    return Errno(absl::StrCat("KVM_CREATE_VCPU vCPU ", id, " (vcpu_id/APIC id ",
                              apic_id, ")"));
  }
  UniqueFd owned(fd);
  size_t size = vm.kvm().vcpu_mmap_size();
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return Errno(absl::StrCat("mmap kvm_run of vCPU ", id));
  return std::unique_ptr<Vcpu>(
      new Vcpu(id, apic_id, std::move(owned), static_cast<kvm_run*>(p), size));
}

Vcpu::~Vcpu() {
  if (run_ != nullptr) munmap(run_, run_size_);
}

absl::StatusOr<kvm_regs> Vcpu::GetRegs() const {
  kvm_regs r{};
  if (Ioctl("KVM_GET_REGS", fd_.get(), KVM_GET_REGS, &r) < 0) return Errno("KVM_GET_REGS");
  return r;
}

absl::Status Vcpu::SetRegs(const kvm_regs& regs) {
  if (Ioctl("KVM_SET_REGS", fd_.get(), KVM_SET_REGS, &regs) < 0) return Errno("KVM_SET_REGS");
  return absl::OkStatus();
}

absl::StatusOr<kvm_sregs> Vcpu::GetSregs() const {
  kvm_sregs s{};
  if (Ioctl("KVM_GET_SREGS", fd_.get(), KVM_GET_SREGS, &s) < 0) return Errno("KVM_GET_SREGS");
  return s;
}

absl::Status Vcpu::SetSregs(const kvm_sregs& sregs) {
  if (Ioctl("KVM_SET_SREGS", fd_.get(), KVM_SET_SREGS, &sregs) < 0) return Errno("KVM_SET_SREGS");
  return absl::OkStatus();
}

absl::StatusOr<kvm_mp_state> Vcpu::GetMpState() const {
  kvm_mp_state s{};
  if (Ioctl("KVM_GET_MP_STATE", fd_.get(), KVM_GET_MP_STATE, &s) < 0) return Errno("KVM_GET_MP_STATE");
  return s;
}

absl::Status Vcpu::SetMpState(uint32_t mp_state) {
  kvm_mp_state s{};
  s.mp_state = mp_state;
  if (Ioctl("KVM_SET_MP_STATE", fd_.get(), KVM_SET_MP_STATE, &s) < 0) return Errno("KVM_SET_MP_STATE");
  return absl::OkStatus();
}

absl::Status Vcpu::SetCpuid(const CpuidTable& cpuid) {
  std::vector<uint8_t> buf(sizeof(CpuidHeader) +
                           cpuid.entries.size() * sizeof(kvm_cpuid_entry2));
  CpuidHeader h{static_cast<uint32_t>(cpuid.entries.size()), 0};
  std::memcpy(buf.data(), &h, sizeof(h));
  std::memcpy(buf.data() + sizeof(CpuidHeader), cpuid.entries.data(),
              cpuid.entries.size() * sizeof(kvm_cpuid_entry2));
  if (Ioctl("KVM_SET_CPUID2", fd_.get(), kSetCpuid2, buf.data()) < 0) return Errno("KVM_SET_CPUID2");
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> Vcpu::TscKhz() const {
  int r = ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
  if (r <= 0) return Errno("KVM_GET_TSC_KHZ (vcpu)");
  return static_cast<uint32_t>(r);
}

absl::StatusOr<uint32_t> Vcpu::Run() {
  if (Ioctl("KVM_RUN", fd_.get(), KVM_RUN, 0) < 0) {
    if (errno == EINTR || errno == EAGAIN) return uint32_t{KVM_EXIT_INTR};
    return Errno(absl::StrCat("KVM_RUN vCPU ", id_));
  }
  return run_->exit_reason;
}

std::string ExitReasonName(uint32_t reason) {
  switch (reason) {
#define KVMBED_EXIT(x) \
  case KVM_EXIT_##x:   \
    return "KVM_EXIT_" #x;
    KVMBED_EXIT(UNKNOWN)
    KVMBED_EXIT(EXCEPTION)
    KVMBED_EXIT(IO)
    KVMBED_EXIT(HYPERCALL)
    KVMBED_EXIT(DEBUG)
    KVMBED_EXIT(HLT)
    KVMBED_EXIT(MMIO)
    KVMBED_EXIT(IRQ_WINDOW_OPEN)
    KVMBED_EXIT(SHUTDOWN)
    KVMBED_EXIT(FAIL_ENTRY)
    KVMBED_EXIT(INTR)
    KVMBED_EXIT(SET_TPR)
    KVMBED_EXIT(TPR_ACCESS)
    KVMBED_EXIT(NMI)
    KVMBED_EXIT(INTERNAL_ERROR)
    KVMBED_EXIT(OSI)
    KVMBED_EXIT(PAPR_HCALL)
    KVMBED_EXIT(WATCHDOG)
    KVMBED_EXIT(EPR)
    KVMBED_EXIT(SYSTEM_EVENT)
    KVMBED_EXIT(IOAPIC_EOI)
    KVMBED_EXIT(HYPERV)
#undef KVMBED_EXIT
    default:
      return absl::StrCat("KVM_EXIT_", reason);
  }
}

}  // namespace vmm
}  // namespace kvmbed
