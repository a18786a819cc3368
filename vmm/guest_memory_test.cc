#include "vmm/guest_memory.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstring>

#include "absl/time/clock.h"

#include "gtest/gtest.h"
#include "vmm/test_vm.h"
#include "guest/abi.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace vmm {
namespace {

// MemAvailable from /proc/meminfo in KiB (-1 if unreadable).
long MemAvailableKib() {
  FILE* f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof(line), f)) {
    if (std::sscanf(line, "MemAvailable: %ld kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib;
}

TEST(GuestMemory, RejectsBadSizes) {
  EXPECT_FALSE(GuestMemory::Create(0).ok());
  EXPECT_FALSE(GuestMemory::Create(4096).ok());
  EXPECT_FALSE(GuestMemory::Create((2ull << 20) + 1).ok());
}

TEST(GuestMemory, TranslateChecksBounds) {
  auto mem = GuestMemory::Create(16ull << 20);
  ASSERT_TRUE(mem.ok());
  const uint64_t size = 16ull << 20;
  GuestMemory& m = **mem;
  EXPECT_TRUE(m.Translate(0, size).ok());
  EXPECT_TRUE(m.Translate(size - 1, 1).ok());
  EXPECT_TRUE(m.Translate(size - 8, 8).ok());
  EXPECT_FALSE(m.Translate(size - 8, 9).ok());
  EXPECT_FALSE(m.Translate(size, 1).ok());
  EXPECT_FALSE(m.Translate(size, 0).ok());
  EXPECT_FALSE(m.Translate(0, size + 1).ok());
  // Overflowing gpa + len must not wrap around into RAM.
  EXPECT_FALSE(m.Translate(16, ~0ull).ok());
  EXPECT_FALSE(m.Translate(~0ull, 2).ok());
  EXPECT_FALSE(m.Translate(~0ull - 4, 8).ok());
  EXPECT_EQ(m.Translate(size, 1).status().code(), absl::StatusCode::kOutOfRange);
  // Typed access checks alignment too.
  EXPECT_TRUE(m.TranslateAs<uint64_t>(8).ok());
  EXPECT_FALSE(m.TranslateAs<uint64_t>(4).ok());
  EXPECT_FALSE(m.TranslateAs<uint64_t>(size - 4).ok());
}

TEST(GuestMemory, ReadWriteRoundTripAndRefuseOutside) {
  auto mem = GuestMemory::Create(4ull << 20);
  ASSERT_TRUE(mem.ok());
  uint64_t v = 0x1122334455667788ull;
  ASSERT_TRUE((*mem)->Write(0x1000, &v, sizeof(v)).ok());
  auto r = (*mem)->ReadAs<uint64_t>(0x1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, v);
  EXPECT_FALSE((*mem)->Write((4ull << 20) - 4, &v, sizeof(v)).ok());
  EXPECT_FALSE((*mem)->ReadAs<uint64_t>(4ull << 20).ok());
}

TEST(GuestMemory, SplitsAroundTheHole) {
  // 5 GiB: 3 GiB below the hole, 2 GiB from 4 GiB up. MAP_NORESERVE: free.
  auto mem = GuestMemory::Create(5ull << 30);
  ASSERT_TRUE(mem.ok()) << mem.status();
  GuestMemory& m = **mem;
  ASSERT_EQ(m.regions().size(), 2u);
  EXPECT_EQ(m.regions()[0].gpa, 0u);
  EXPECT_EQ(m.regions()[0].size, abi::kLowMemLimit);
  EXPECT_EQ(m.regions()[1].gpa, abi::kHighMemGpa);
  EXPECT_EQ(m.regions()[1].size, 2ull << 30);
  EXPECT_TRUE(m.Translate(abi::kLowMemLimit - 8, 8).ok());
  EXPECT_FALSE(m.Translate(abi::kLowMemLimit - 8, 16).ok());  // straddles the hole
  EXPECT_FALSE(m.Translate(abi::kLowMemLimit, 1).ok());       // in the hole
  EXPECT_FALSE(m.Translate(abi::kHighMemGpa - 1, 1).ok());
  EXPECT_TRUE(m.Translate(abi::kHighMemGpa, 8).ok());
  EXPECT_TRUE(m.Translate(abi::kHighMemGpa + (2ull << 30) - 8, 8).ok());
  EXPECT_FALSE(m.Translate(abi::kHighMemGpa + (2ull << 30), 1).ok());
  // Writes land in distinct host mappings.
  uint32_t a = 1, b = 2;
  ASSERT_TRUE(m.Write(0x2000, &a, 4).ok());
  ASSERT_TRUE(m.Write(abi::kHighMemGpa + 0x2000, &b, 4).ok());
  EXPECT_EQ(*m.ReadAs<uint32_t>(0x2000), 1u);
  EXPECT_EQ(*m.ReadAs<uint32_t>(abi::kHighMemGpa + 0x2000), 2u);
}

// The seed profile's 224 GiB: does MAP_NORESERVE + one KVM slot work on this
// host, and what does it cost? Prints the RSS growth (figures, not asserts).
TEST(GuestMemory, SeedSized224GiBSlotRegisters) {
  KVMBED_SKIP_WITHOUT_KVM();
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  long avail_before = MemAvailableKib();
  absl::Time t0 = absl::Now();
  auto mem = GuestMemory::Create(224ull << 30);
  ASSERT_TRUE(mem.ok()) << mem.status();
  auto kvm = Kvm::Open();
  ASSERT_TRUE(kvm.ok()) << kvm.status();
  auto vm = Vm::Create(**kvm);
  ASSERT_TRUE(vm.ok()) << vm.status();
  absl::Time t1 = absl::Now();
  absl::Status st = (*mem)->Register(**vm);
  ASSERT_TRUE(st.ok()) << st;
  absl::Time t2 = absl::Now();
  long avail_after = MemAvailableKib();
  uint64_t v = 42;
  ASSERT_TRUE((*mem)->Write(abi::kHighMemGpa + (200ull << 30), &v, 8).ok());
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  std::printf("224 GiB guest RAM: %zu regions; mmap+VM %.1f ms, "
              "KVM_SET_USER_MEMORY_REGION %.1f ms; max RSS grew %ld KiB; "
              "host MemAvailable dropped %ld KiB (KVM slot metadata)\n",
              (*mem)->regions().size(), absl::ToDoubleMilliseconds(t1 - t0),
              absl::ToDoubleMilliseconds(t2 - t1),
              after.ru_maxrss - before.ru_maxrss, avail_before - avail_after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << "untouched RAM costs host memory";
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
