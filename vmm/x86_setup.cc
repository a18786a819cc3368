#include "vmm/x86_setup.h"

#include <cstring>

#include "base/status_macros.h"
#include "guest/abi.h"
#include "vmm/guest_memory.h"

namespace kvmbed {
namespace vmm {

namespace {

constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWrite = 1ull << 1;
constexpr uint64_t kPtePageSize = 1ull << 7;

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Mp = 1ull << 1;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Ne = 1ull << 5;
constexpr uint64_t kCr0Wp = 1ull << 16;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kCr4Osfxsr = 1ull << 9;
constexpr uint64_t kCr4Osxmmexcpt = 1ull << 10;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

constexpr uint64_t kGdtCode64 = 0x00af9b000000ffffull;  // L=1 P=1 S=1 type=0xb
constexpr uint64_t kGdtData = 0x00cf93000000ffffull;    // D=1 P=1 S=1 type=0x3
constexpr uint32_t kTssLimit = 0x67;
constexpr int kGdtEntries = 5;  // null, code, data, TSS (two slots)

kvm_segment CodeSegment() {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = abi::kCodeSelector;
  s.type = 0xb;
  s.present = 1;
  s.s = 1;
  s.l = 1;
  s.g = 1;
  return s;
}

kvm_segment DataSegment() {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = abi::kDataSelector;
  s.type = 0x3;
  s.present = 1;
  s.s = 1;
  s.db = 1;
  s.g = 1;
  return s;
}

}  // namespace

absl::Status WriteBootTables(GuestMemory& mem) {
  // GDT.
  uint64_t gdt[kGdtEntries] = {};
  gdt[1] = kGdtCode64;
  gdt[2] = kGdtData;
  const uint64_t tss = abi::kTssGpa;
  gdt[3] = (kTssLimit & 0xffff) | ((tss & 0xffffff) << 16) | (0x8bull << 40) |
           (uint64_t{(kTssLimit >> 16) & 0xf} << 48) | (((tss >> 24) & 0xff) << 56);
  gdt[4] = tss >> 32;
  RETURN_IF_ERROR(mem.Write(abi::kGdtGpa, gdt, sizeof(gdt)));
  // TSS: all zero except the I/O map base, set past the limit (no bitmap).
  uint8_t tss_bytes[kTssLimit + 1] = {};
  uint16_t iomap = kTssLimit + 1;
  std::memcpy(tss_bytes + 0x66, &iomap, sizeof(iomap));
  RETURN_IF_ERROR(mem.Write(abi::kTssGpa, tss_bytes, sizeof(tss_bytes)));

  // Page tables: PML4[0] -> PDPT; PDPT[0..3] -> 4 PDs of 2 MiB pages.
  uint64_t pml4[512] = {};
  pml4[0] = abi::kPdptGpa | kPtePresent | kPteWrite;
  RETURN_IF_ERROR(mem.Write(abi::kPml4Gpa, pml4, sizeof(pml4)));
  uint64_t pdpt[512] = {};
  const int kPds = static_cast<int>(abi::kIdentityMapBytes >> 30);
  for (int i = 0; i < kPds; ++i) {
    pdpt[i] = (abi::kPdGpa + i * 0x1000ull) | kPtePresent | kPteWrite;
  }
  RETURN_IF_ERROR(mem.Write(abi::kPdptGpa, pdpt, sizeof(pdpt)));
  std::vector<uint64_t> pd(512 * kPds);
  for (size_t j = 0; j < pd.size(); ++j) {
    pd[j] = (j << 21) | kPtePresent | kPteWrite | kPtePageSize;
  }
  return mem.Write(abi::kPdGpa, pd.data(), pd.size() * sizeof(uint64_t));
}

absl::StatusOr<CpuidTable> BaseGuestCpuid(const Kvm& kvm) {
  CpuidTable t = kvm.supported_cpuid();
  kvm_cpuid_entry2* leaf1 = t.Find(1);
  if (leaf1 == nullptr) {
    return absl::FailedPreconditionError("KVM_GET_SUPPORTED_CPUID has no leaf 1");
  }
  leaf1->ecx |= 1u << 21;  // x2APIC: KVM emulates it with the in-kernel LAPIC
  return t;
}

CpuidTable CpuidForVcpu(const CpuidTable& base, uint32_t apic_id) {
  CpuidTable t = base;
  for (auto& e : t.entries) {
    if (e.function == 1) {
      e.ebx = (e.ebx & 0x00ffffffu) | (apic_id << 24);
    } else if (e.function == 0xb || e.function == 0x1f) {
      e.edx = apic_id;
    }
  }
  return t;
}

absl::Status SetupLongModeVcpu(Vcpu& vcpu, const CpuidTable& cpuid,
                               uint64_t entry) {
  RETURN_IF_ERROR(vcpu.SetCpuid(cpuid));

  ASSIGN_OR_RETURN(kvm_sregs s, vcpu.GetSregs());
  s.cs = CodeSegment();
  s.ds = s.es = s.fs = s.gs = s.ss = DataSegment();
  s.tr = kvm_segment{};
  s.tr.base = abi::kTssGpa;
  s.tr.limit = kTssLimit;
  s.tr.selector = abi::kTssSelector;
  s.tr.type = 0xb;  // busy 64-bit TSS
  s.tr.present = 1;
  s.ldt = kvm_segment{};
  s.ldt.type = 0x2;
  s.ldt.unusable = 1;
  s.gdt.base = abi::kGdtGpa;
  s.gdt.limit = kGdtEntries * 8 - 1;
  s.idt.base = 0;
  s.idt.limit = 0;  // the guest installs its own IDT first thing
  s.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg;
  s.cr3 = abi::kPml4Gpa;
  s.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt;
  s.efer = kEferLme | kEferLma;
  RETURN_IF_ERROR(vcpu.SetSregs(s));

  kvm_regs r{};
  r.rip = entry;
  r.rsp = abi::StackTop(static_cast<uint32_t>(vcpu.id()));
  r.rdi = static_cast<uint64_t>(vcpu.id());
  r.rsi = abi::kBootParamsGpa;
  r.rflags = 0x2;
  RETURN_IF_ERROR(vcpu.SetRegs(r));
  return vcpu.SetMpState(KVM_MP_STATE_RUNNABLE);
}

}  // namespace vmm
}  // namespace kvmbed
