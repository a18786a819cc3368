#include "vmm/x86_setup.h"

#include "gtest/gtest.h"

namespace kvmbed {
namespace vmm {
namespace {

CpuidTable FakeBase() {
  CpuidTable t;
  kvm_cpuid_entry2 e{};
  e.function = 1;
  e.ebx = 0xaabb1234;
  t.entries.push_back(e);
  e = kvm_cpuid_entry2{};
  e.function = 0xb;
  e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  t.entries.push_back(e);
  e = kvm_cpuid_entry2{};
  e.function = 0x1f;
  t.entries.push_back(e);
  return t;
}

TEST(ApicTopology, SeedGuestAIsContiguous) {
  auto topo = MakeApicTopology(Topology{1, 28, 2}, 56);
  ASSERT_TRUE(topo.ok()) << topo.status();
  EXPECT_EQ(topo->smt_bits, 1);
  EXPECT_EQ(topo->core_bits, 5);
  for (int i = 0; i < 56; ++i) EXPECT_EQ(topo->ApicId(i), static_cast<uint32_t>(i));
}

TEST(ApicTopology, GapsForNonPowerOfTwo) {
  auto topo = MakeApicTopology(Topology{2, 3, 2}, 12);
  ASSERT_TRUE(topo.ok());
  EXPECT_EQ(topo->ApicId(5), 5u);   // socket 0, core 2, thread 1
  EXPECT_EQ(topo->ApicId(6), 8u);   // socket 1 starts at 1 << 3
  EXPECT_EQ(topo->ApicId(11), 13u);
}

TEST(ApicTopology, RejectsMismatchNamingTheField) {
  auto topo = MakeApicTopology(Topology{1, 28, 2}, 55);
  ASSERT_FALSE(topo.ok());
  EXPECT_NE(topo.status().message().find("VmSpec.topology"), std::string::npos);
  EXPECT_NE(topo.status().message().find("VmSpec.vcpus = 55"), std::string::npos);
  EXPECT_FALSE(MakeApicTopology(Topology{0, 1, 1}, 0).ok());
}

TEST(CpuidForVcpu, DescribesTopologyAndId) {
  auto topo = MakeApicTopology(Topology{2, 3, 2}, 12);
  ASSERT_TRUE(topo.ok());
  CpuidTable t = CpuidForVcpu(FakeBase(), 9, *topo);
  EXPECT_EQ(t.Find(0x1f), nullptr);
  kvm_cpuid_entry2* l1 = t.Find(1);
  ASSERT_NE(l1, nullptr);
  EXPECT_EQ(l1->ebx >> 24, 9u);
  EXPECT_EQ((l1->ebx >> 16) & 0xff, 6u);  // logical CPUs per package
  EXPECT_EQ(l1->ebx & 0xffff, 0x1234u);   // other fields kept
  EXPECT_TRUE(l1->edx & (1u << 28));
  kvm_cpuid_entry2* smt = t.Find(0xb, 0);
  kvm_cpuid_entry2* core = t.Find(0xb, 1);
  kvm_cpuid_entry2* end = t.Find(0xb, 2);
  ASSERT_TRUE(smt && core && end);
  EXPECT_EQ(smt->eax, 1u);
  EXPECT_EQ(smt->ebx, 2u);
  EXPECT_EQ(smt->ecx, (1u << 8) | 0);
  EXPECT_EQ(core->eax, 3u);
  EXPECT_EQ(core->ebx, 6u);
  EXPECT_EQ(core->ecx, (2u << 8) | 1);
  EXPECT_EQ(end->ecx & 0xff00, 0u);
  EXPECT_EQ(smt->edx, 9u);
  EXPECT_EQ(core->edx, 9u);
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
