// The MP table kvmbed gives Linux guests, read back the way the kernel's MP
// parser reads it. Needs no KVM.
#include "vmm/linux_platform.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace vmm {
namespace {

uint8_t Sum(const std::vector<uint8_t>& b, size_t from, size_t n) {
  uint8_t s = 0;
  for (size_t i = from; i < from + n; ++i) s = static_cast<uint8_t>(s + b[i]);
  return s;
}

struct IoIntEntry {
  uint8_t type, src_irq, ioapic, pin;
};

// Parses the table at `gpa`; checks signatures and checksums on the way.
std::vector<IoIntEntry> ReadIoInterrupts(const GuestMemory& mem, uint64_t gpa,
                                         int* processors) {
  std::vector<uint8_t> fp(16);
  EXPECT_TRUE(mem.Read(gpa, fp.data(), fp.size()).ok());
  EXPECT_EQ(std::memcmp(fp.data(), "_MP_", 4), 0);
  EXPECT_EQ(Sum(fp, 0, 16), 0) << "floating pointer checksum";
  uint32_t table = fp[4] | (fp[5] << 8) | (fp[6] << 16) | (fp[7] << 24);
  std::vector<uint8_t> hdr(44);
  EXPECT_TRUE(mem.Read(table, hdr.data(), hdr.size()).ok());
  EXPECT_EQ(std::memcmp(hdr.data(), "PCMP", 4), 0);
  uint16_t len = hdr[4] | (hdr[5] << 8);
  uint16_t count = hdr[34] | (hdr[35] << 8);
  std::vector<uint8_t> t(len);
  EXPECT_TRUE(mem.Read(table, t.data(), t.size()).ok());
  EXPECT_EQ(Sum(t, 0, len), 0) << "table checksum";
  std::vector<IoIntEntry> out;
  *processors = 0;
  size_t o = 44;
  for (uint16_t i = 0; i < count && o < len; ++i) {
    switch (t[o]) {
      case 0: ++*processors; o += 20; break;
      case 3: out.push_back({t[o + 1], t[o + 5], t[o + 6], t[o + 7]}); o += 8; break;
      default: o += 8; break;
    }
  }
  EXPECT_EQ(o, len) << "entry count and table length disagree";
  return out;
}

// ISA IRQs on the IOAPIC pins of their own number, as KVM's default GSI
// routing wires them (GSI n -> pin n); no entry for the cascade (IRQ 2).
TEST(MpTable, IsaIrqsOnTheirOwnPinsAndEveryCpuListed) {
  auto mem = GuestMemory::Create(16ull << 20);
  ASSERT_TRUE(mem.ok()) << mem.status();
  ASSERT_TRUE(WriteMpTable(**mem, 0xf0000, {0, 1, 2}).ok());
  int cpus = 0;
  std::vector<IoIntEntry> irqs = ReadIoInterrupts(**mem, 0xf0000, &cpus);
  EXPECT_EQ(cpus, 3);
  std::vector<bool> seen(16, false);
  for (const IoIntEntry& e : irqs) {
    EXPECT_EQ(e.type, 0) << "every I/O entry is INT";
    EXPECT_EQ(e.pin, e.src_irq);
    EXPECT_NE(e.src_irq, 2) << "the cascade has no entry";
    EXPECT_EQ(e.ioapic, 3) << "the IOAPIC's id follows the last APIC id";
    ASSERT_LT(e.src_irq, 16);
    seen[e.src_irq] = true;
  }
  for (int irq = 0; irq < 16; ++irq) EXPECT_EQ(seen[irq], irq != 2) << "ISA IRQ " << irq;
}

TEST(MpTable, RefusesApicIdsThatDoNotFit) {
  auto mem = GuestMemory::Create(16ull << 20);
  ASSERT_TRUE(mem.ok());
  absl::Status s = WriteMpTable(**mem, 0xf0000, {0, 255});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("APIC id 255"), std::string::npos) << s;
}

TEST(LinuxCpuid, HypervisorBitKvmclockOnlyTscDeadlineWhenEmulatedNoLa57) {
  CpuidTable t;
  kvm_cpuid_entry2 l1{};
  l1.function = 1;
  l1.ecx = 1u << 21;  // x2APIC, kept
  kvm_cpuid_entry2 l7{};
  l7.function = 7;
  l7.ecx = (1u << 16) | 1u;  // LA57 dropped, the rest kept
  kvm_cpuid_entry2 pv{};
  pv.function = 0x40000001;
  pv.eax = 0x01fffbffu;  // every KVM paravirtual feature up to bit 24
  t.entries = {l1, l7, pv};

  CpuidTable with = t;
  FitCpuidForLinux(with, /*tsc_deadline=*/true);
  EXPECT_EQ(with.Find(1)->ecx, (1u << 21) | (1u << 24) | (1u << 31));
  EXPECT_EQ(with.Find(7, 0)->ecx, 1u);
  // kvmclock and NOP_IO_DELAY only: no PV IPIs, TLB flush, spinlocks, EOI.
  EXPECT_EQ(with.Find(0x40000001)->eax, (1u << 0) | (1u << 1) | (1u << 3) | (1u << 24));

  CpuidTable without = t;
  FitCpuidForLinux(without, /*tsc_deadline=*/false);
  EXPECT_EQ(without.Find(1)->ecx, (1u << 21) | (1u << 31));
  EXPECT_EQ(without.Find(7, 0)->ecx, 1u);
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
