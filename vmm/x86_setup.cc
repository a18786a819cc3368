#include "vmm/x86_setup.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

#include "base/status_macros.h"
#include "guest/abi.h"
#include "vmm/guest_memory.h"

namespace kvmbed {
namespace vmm {

namespace {

constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWrite = 1ull << 1;
constexpr uint64_t kPteUser = 1ull << 2;
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
constexpr uint64_t kGdtUserData = 0x00cff3000000ffffull;  // DPL 3 data
constexpr uint64_t kGdtUserCode64 = 0x00affb000000ffffull;  // DPL 3, L=1
constexpr int kGdtEntries = 7;  // null, code, data, TSS (two slots), user data, user code

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

absl::Status WriteBootTables(GuestMemory& mem, int num_vcpus) {
  // GDT.
  uint64_t gdt[kGdtEntries] = {};
  gdt[1] = kGdtCode64;
  gdt[2] = kGdtData;
  const uint64_t tss = abi::TssOf(0);  // only `ltr` would read it; see abi.h
  gdt[3] = (kTssLimit & 0xffff) | ((tss & 0xffffff) << 16) | (0x8bull << 40) |
           (uint64_t{(kTssLimit >> 16) & 0xf} << 48) | (((tss >> 24) & 0xff) << 56);
  gdt[4] = tss >> 32;
  gdt[abi::kUserDataSelector >> 3] = kGdtUserData;
  gdt[abi::kUserCodeSelector >> 3] = kGdtUserCode64;
  RETURN_IF_ERROR(mem.Write(abi::kGdtGpa, gdt, sizeof(gdt)));
  // One TSS per vCPU: RSP0 = its stack top; the I/O map base past the limit
  // (no bitmap: ring 3 may not use ports).
  for (int v = 0; v < num_vcpus; ++v) {
    uint8_t tss_bytes[kTssLimit + 1] = {};
    uint64_t rsp0 = abi::StackTop(static_cast<uint32_t>(v));
    uint16_t iomap = kTssLimit + 1;
    std::memcpy(tss_bytes + 0x04, &rsp0, sizeof(rsp0));
    std::memcpy(tss_bytes + 0x66, &iomap, sizeof(iomap));
    RETURN_IF_ERROR(mem.Write(abi::TssOf(static_cast<uint32_t>(v)), tss_bytes,
                              sizeof(tss_bytes)));
  }

  // Page tables: PML4[0] -> PDPT; PDPT[0..3] -> 4 PDs of 2 MiB pages.
  uint64_t pml4[512] = {};
  pml4[0] = abi::kPdptGpa | kPtePresent | kPteWrite | kPteUser;
  RETURN_IF_ERROR(mem.Write(abi::kPml4Gpa, pml4, sizeof(pml4)));
  uint64_t pdpt[512] = {};
  const int kPds = static_cast<int>(abi::kIdentityMapBytes >> 30);
  for (int i = 0; i < kPds; ++i) {
    pdpt[i] = (abi::kPdGpa + i * 0x1000ull) | kPtePresent | kPteWrite | kPteUser;
  }
  RETURN_IF_ERROR(mem.Write(abi::kPdptGpa, pdpt, sizeof(pdpt)));
  std::vector<uint64_t> pd(512 * kPds);
  for (size_t j = 0; j < pd.size(); ++j) {
    pd[j] = (j << 21) | kPtePresent | kPteWrite | kPteUser | kPtePageSize;
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

namespace {
int CeilLog2(int n) {
  int bits = 0;
  while ((1 << bits) < n) ++bits;
  return bits;
}
}  // namespace

uint32_t ApicTopology::ApicId(int index) const {
  const int t = topology.threads, c = topology.cores;
  uint32_t thread = static_cast<uint32_t>(index % t);
  uint32_t core = static_cast<uint32_t>((index / t) % c);
  uint32_t socket = static_cast<uint32_t>(index / (t * c));
  return (socket << (smt_bits + core_bits)) | (core << smt_bits) | thread;
}

absl::StatusOr<ApicTopology> MakeApicTopology(const Topology& t, int vcpus) {
  if (t.sockets < 1 || t.cores < 1 || t.threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VmSpec.topology sockets=", t.sockets, " cores=", t.cores, " threads=",
        t.threads, ": each must be >= 1"));
  }
  if (static_cast<long>(t.sockets) * t.cores * t.threads != vcpus) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VmSpec.topology sockets=", t.sockets, " cores=", t.cores, " threads=",
        t.threads, " gives ", static_cast<long>(t.sockets) * t.cores * t.threads,
        " vCPUs but VmSpec.vcpus = ", vcpus, ": make the product equal vcpus"));
  }
  ApicTopology a;
  a.topology = t;
  a.smt_bits = CeilLog2(t.threads);
  a.core_bits = CeilLog2(t.cores);
  return a;
}

CpuidTable CpuidForVcpu(const CpuidTable& base, uint32_t apic_id,
                        const ApicTopology& topo) {
  const uint32_t per_core = static_cast<uint32_t>(topo.topology.threads);
  const uint32_t per_pkg = static_cast<uint32_t>(topo.topology.threads * topo.topology.cores);
  CpuidTable t;
  for (const auto& in : base.entries) {
    // Leaf 0xB is rewritten below; without 0x1F guests use 0xB.
    if (in.function == 0x1f || in.function == 0xb) continue;
    kvm_cpuid_entry2 e = in;
    if (e.function == 1) {
      e.ebx = (e.ebx & 0x0000ffffu) | ((apic_id & 0xff) << 24) |
              (std::min<uint32_t>(per_pkg, 255) << 16);
      if (per_pkg > 1) e.edx |= 1u << 28;  // HTT: more than one logical CPU
    }
    t.entries.push_back(e);
  }
  // Leaf 0xB: subleaf 0 = SMT level, 1 = core level, 2 = invalid (end).
  const uint32_t shifts[2] = {static_cast<uint32_t>(topo.smt_bits),
                              static_cast<uint32_t>(topo.smt_bits + topo.core_bits)};
  const uint32_t counts[2] = {per_core, per_pkg};
  for (uint32_t sub = 0; sub < 3; ++sub) {
    kvm_cpuid_entry2 e{};
    e.function = 0xb;
    e.index = sub;
    e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    if (sub < 2) {
      e.eax = shifts[sub];
      e.ebx = counts[sub];
      e.ecx = ((sub + 1) << 8) | sub;  // level type 1 = SMT, 2 = core
    } else {
      e.ecx = sub;  // level type 0: no more levels
    }
    e.edx = apic_id;
    t.entries.push_back(e);
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
  s.tr.base = abi::TssOf(static_cast<uint32_t>(vcpu.id()));
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
