// The x86-64 page walk over page tables built in a plain buffer (and once in
// guest RAM): 4 KiB, 2 MiB and 1 GiB pages, not-present entries at each
// level, tables outside memory. No /dev/kvm needed.
#include "vmm/guest_page_walk.h"

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "vmm/guest_memory.h"

namespace kvmbed {
namespace vmm {
namespace {

constexpr uint64_t kP = 1ull << 0;   // present
constexpr uint64_t kRw = 1ull << 1;  // writable (ignored by the walk)
constexpr uint64_t kPs = 1ull << 7;  // 1 GiB / 2 MiB page
constexpr uint64_t kNx = 1ull << 63;

// Table pages of the fake guest-physical memory.
constexpr uint64_t kPml4 = 0x1000, kPdpt = 0x2000, kPd = 0x3000, kPt = 0x4000, kPdptHigh = 0x5000;

// A canonical virtual address from its four table indexes and page offset.
uint64_t Va(uint64_t l4, uint64_t l3, uint64_t l2, uint64_t l1, uint64_t off) {
  uint64_t va = (l4 << 39) | (l3 << 30) | (l2 << 21) | (l1 << 12) | off;
  if (va & (1ull << 47)) va |= 0xffff000000000000ull;  // sign-extend bit 47
  return va;
}

// 64 KiB of guest-physical memory from address 0, read entry by entry.
class PageWalkTest : public ::testing::Test {
 protected:
  PageWalkTest() : ram_(64 * 1024 / 8, 0) {
    Set(kPml4, 1, kPdpt | kP | kRw);
    Set(kPdpt, 2, kPd | kP | kRw);
    Set(kPd, 3, kPt | kP | kRw);
    Set(kPt, 4, 0x12345000 | kP | kRw);             // a 4 KiB page
    Set(kPt, 9, kNx | 0xabcd000 | kP | (1ull << 6));  // NX and dirty bits are not address
    Set(kPd, 5, 0x40200000 | kP | kRw | kPs);        // a 2 MiB page
    Set(kPd, 6, 0x40400000 | kRw | kPs);             // a 2 MiB page, not present
    Set(kPd, 10, 0x10000000 | kP);                   // a PT outside memory
    Set(kPdpt, 7, 0x180000000 | kP | kPs);           // a 1 GiB page
    Set(kPml4, 511, kPdptHigh | kP);                 // the kernel's top 512 GiB
    Set(kPdptHigh, 510, 0x40000000 | kP | kPs);      // 0xffffffff80000000: 1 GiB
    reader_ = [this](uint64_t gpa) -> absl::StatusOr<uint64_t> {
      ++reads_;
      if (gpa % 8 != 0 || gpa / 8 >= ram_.size()) {
        return absl::OutOfRangeError(absl::StrCat("gpa 0x", absl::Hex(gpa), " outside RAM"));
      }
      return ram_[gpa / 8];
    };
  }
  void Set(uint64_t table, uint64_t index, uint64_t entry) { ram_[(table + index * 8) / 8] = entry; }
  absl::StatusOr<uint64_t> Walk(uint64_t va, uint64_t cr3 = kPml4) {
    return GuestVirtToPhys(reader_, cr3, va);
  }

  std::vector<uint64_t> ram_;
  PageTableReader reader_;
  int reads_ = 0;
};

TEST_F(PageWalkTest, FourKilobytePageTakesFourLevels) {
  absl::StatusOr<uint64_t> pa = Walk(Va(1, 2, 3, 4, 0xabc));
  ASSERT_TRUE(pa.ok()) << pa.status();
  EXPECT_EQ(*pa, 0x12345abcu);
  EXPECT_EQ(reads_, 4);
  // Flag bits of the entry (NX, dirty) are not part of the address.
  pa = Walk(Va(1, 2, 3, 9, 0x10));
  ASSERT_TRUE(pa.ok()) << pa.status();
  EXPECT_EQ(*pa, 0xabcd010u);
}

TEST_F(PageWalkTest, Cr3FlagAndPcidBitsAreIgnored) {
  absl::StatusOr<uint64_t> pa = Walk(Va(1, 2, 3, 4, 0x8), kPml4 | 0x18 | 0x5);
  ASSERT_TRUE(pa.ok()) << pa.status();
  EXPECT_EQ(*pa, 0x12345008u);
}

TEST_F(PageWalkTest, TwoMegabytePageStopsAtThePageDirectory) {
  absl::StatusOr<uint64_t> pa = Walk(Va(1, 2, 5, 0x1ab, 0x123));
  ASSERT_TRUE(pa.ok()) << pa.status();
  EXPECT_EQ(*pa, 0x40200000u + (0x1abu << 12) + 0x123u);
  EXPECT_EQ(reads_, 3);
}

TEST_F(PageWalkTest, OneGigabytePageStopsAtThePdpt) {
  absl::StatusOr<uint64_t> pa = Walk(Va(1, 7, 0x55, 0x66, 0x777));
  ASSERT_TRUE(pa.ok()) << pa.status();
  EXPECT_EQ(*pa, 0x180000000u + (0x55u << 21) + (0x66u << 12) + 0x777u);
  EXPECT_EQ(reads_, 2);
  // The kernel text mapping: a canonical upper-half address.
  pa = Walk(0xffffffff80001234ull);
  ASSERT_TRUE(pa.ok()) << pa.status();
  EXPECT_EQ(*pa, 0x40001234u);
}

TEST_F(PageWalkTest, NotPresentAtEveryLevelIsNotFound) {
  const uint64_t missing[] = {
      Va(2, 0, 0, 0, 0),    // PML4 entry
      Va(1, 3, 0, 0, 0),    // PDPT entry
      Va(1, 2, 4, 0, 0),    // PD entry
      Va(1, 2, 3, 5, 0),    // PT entry
      Va(1, 2, 6, 0, 0x40), // a 2 MiB page entry with PS but not present
  };
  for (uint64_t va : missing) {
    absl::StatusOr<uint64_t> pa = Walk(va);
    ASSERT_FALSE(pa.ok()) << std::hex << va << " -> " << *pa;
    EXPECT_TRUE(absl::IsNotFound(pa.status())) << pa.status();
    EXPECT_TRUE(absl::StrContains(pa.status().message(), absl::StrCat("0x", absl::Hex(va))))
        << pa.status();
  }
}

TEST_F(PageWalkTest, TableOutsideMemoryIsTheReadersError) {
  absl::StatusOr<uint64_t> pa = Walk(Va(1, 2, 10, 0, 0));
  ASSERT_FALSE(pa.ok());
  EXPECT_TRUE(absl::IsOutOfRange(pa.status())) << pa.status();
}

// The GuestMemory overload reads the same tables from a VM's RAM (mapped,
// not registered with KVM).
TEST(GuestPageWalk, WalksTablesInGuestMemory) {
  absl::StatusOr<std::unique_ptr<GuestMemory>> mem = GuestMemory::Create(2ull << 20);
  ASSERT_TRUE(mem.ok()) << mem.status();
  auto put = [&](uint64_t gpa, uint64_t v) { ASSERT_TRUE((*mem)->Write(gpa, &v, 8).ok()); };
  put(kPml4 + 1 * 8, kPdpt | kP);
  put(kPdpt + 2 * 8, kPd | kP);
  put(kPd + 3 * 8, kPt | kP);
  put(kPt + 4 * 8, 0x7000 | kP);
  put(kPd + 5 * 8, 0x200000 | kP | kPs);
  absl::StatusOr<uint64_t> pa = GuestVirtToPhys(**mem, kPml4, Va(1, 2, 3, 4, 0x18));
  ASSERT_TRUE(pa.ok()) << pa.status();
  EXPECT_EQ(*pa, 0x7018u);
  pa = GuestVirtToPhys(**mem, kPml4, Va(1, 2, 5, 1, 0));
  ASSERT_TRUE(pa.ok()) << pa.status();
  EXPECT_EQ(*pa, 0x201000u);
  pa = GuestVirtToPhys(**mem, kPml4, Va(1, 2, 3, 5, 0));
  EXPECT_TRUE(absl::IsNotFound(pa.status())) << pa.status();
  // A PT pointer past the end of RAM is an error, not a read outside it.
  put(kPd + 7 * 8, (64ull << 20) | kP);
  pa = GuestVirtToPhys(**mem, kPml4, Va(1, 2, 7, 0, 0));
  EXPECT_FALSE(pa.ok());
  EXPECT_FALSE(absl::IsNotFound(pa.status())) << pa.status();
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
