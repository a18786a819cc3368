// Faults of the host, injected without KVM: guest RAM that cannot be
// allocated (an address-space limit, as `ulimit -v` sets), the KVM ioctl
// fault-injection seam, and vCPU CPU sets that cannot be pinned (offline or
// outside the process's CPU set). Each must give a clear error marked as a
// host error (exit 2 on the command line), leave nothing mapped, and not
// crash. tests/vmm_fault_test.sh drives the same faults through `kvmbed run`
// on real KVM.
#include <sched.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm.h"
#include "vmm/vcpu_thread.h"

namespace kvmbed {
namespace vmm {
namespace {


// This process's address space in bytes (VmSize).
uint64_t VmSizeBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
  }
  return 0;
}

// Lowers RLIMIT_AS to the current address space plus `headroom` for the
// life of the object, as `ulimit -v` would for a whole run.
class AddressSpaceLimit {
 public:
  explicit AddressSpaceLimit(uint64_t headroom) {
    EXPECT_EQ(getrlimit(RLIMIT_AS, &old_), 0);
    rlimit lim = old_;
    lim.rlim_cur = VmSizeBytes() + headroom;
    ok_ = setrlimit(RLIMIT_AS, &lim) == 0;
  }
  ~AddressSpaceLimit() { setrlimit(RLIMIT_AS, &old_); }
  bool ok() const { return ok_; }

 private:
  rlimit old_{};
  bool ok_ = false;
};

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

TEST(GuestRamAllocation, FailsWithAClearHostError) {
  absl::StatusOr<std::unique_ptr<GuestMemory>> mem;
  {
    AddressSpaceLimit limit(256 * kMiB);
    ASSERT_TRUE(limit.ok());
    mem = GuestMemory::Create(2 * kGiB);
  }
  ASSERT_FALSE(mem.ok()) << "2 GiB of guest RAM under a 256 MiB address-space headroom";
  EXPECT_EQ(mem.status().code(), absl::StatusCode::kResourceExhausted) << mem.status();
  const std::string msg(mem.status().message());
  EXPECT_NE(msg.find("cannot allocate 2048 MiB of guest RAM"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Cannot allocate memory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ulimit -v"), std::string::npos) << msg;
  EXPECT_TRUE(IsHostError(mem.status()));
}

// RAM above 3 GiB is two mappings: when the second fails, the first must be
// unmapped again. Proof: under the same limit, the first alone still fits.
TEST(GuestRamAllocation, SecondRegionFailingLeavesNothingMapped) {
  AddressSpaceLimit limit(3 * kGiB + 256 * kMiB);
  ASSERT_TRUE(limit.ok());
  const uint64_t before = VmSizeBytes();
  absl::StatusOr<std::unique_ptr<GuestMemory>> big = GuestMemory::Create(4 * kGiB);
  ASSERT_FALSE(big.ok()) << "4 GiB fitted in 3.25 GiB of headroom";
  EXPECT_NE(big.status().message().find("at gpa 0x100000000"), std::string::npos)
      << "the high region should be the one that failed: " << big.status();
  EXPECT_LT(VmSizeBytes(), before + 64 * kMiB) << "the low 3 GiB stayed mapped";
  absl::StatusOr<std::unique_ptr<GuestMemory>> low = GuestMemory::Create(3 * kGiB);
  EXPECT_TRUE(low.ok()) << low.status();
}

TEST(IoctlFaultSeam, ParsesItsSpecAndRefusesNonsense) {
  absl::StatusOr<IoctlFault> f = ParseIoctlFault("KVM_RUN:100:EIO");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->ioctl, "KVM_RUN");
  EXPECT_EQ(f->nth, 100);
  EXPECT_EQ(f->err, EIO);
  f = ParseIoctlFault("KVM_CREATE_VCPU:2:12");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->err, ENOMEM);
  for (const char* bad : {"", "KVM_RUN", "KVM_RUN:0:EIO", "KVM_RUN:x:EIO", "KVM_RUN:1:EWHAT",
                          "open:1:EIO", "KVM_RUN:1:EIO:more", "KVM_RUN:1:-5"}) {
    absl::StatusOr<IoctlFault> b = ParseIoctlFault(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("KVMBED_KVM_FAULT="), std::string::npos) << b.status();
    EXPECT_NE(b.status().message().find("e.g. KVM_RUN:100:EIO"), std::string::npos);
  }
  // A long value is quoted as a bounded excerpt.
  absl::StatusOr<IoctlFault> longer = ParseIoctlFault(std::string(100000, 'K'));
  ASSERT_FALSE(longer.ok());
  EXPECT_LT(longer.status().message().size(), 400u);
}

TEST(IoctlFaultSeam, FailsTheNthCallOnceAcrossThreads) {
  SetIoctlFault({"KVM_RUN", 3000, EIO});
  std::atomic<int> fired{0};
  std::atomic<int> at{-1};
  std::atomic<int> calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        int err = 0;
        int n = calls.fetch_add(1) + 1;
        if (TakeIoctlFault("KVM_SET_REGS", &err)) fired.fetch_add(100);  // other ioctls never
        if (TakeIoctlFault("KVM_RUN", &err)) {
          fired.fetch_add(1);
          at.store(n);
          EXPECT_EQ(err, EIO);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fired.load(), 1) << "the 3000th KVM_RUN of 4000 must fail, once";
  EXPECT_GE(at.load(), 3000);
  int err = 0;
  EXPECT_FALSE(TakeIoctlFault("KVM_RUN", &err)) << "a fault fires once";
  SetIoctlFault({});
}

TEST(IoctlFaultSeam, AMalformedEnvironmentValueFailsKvmOpen) {
  // Kvm::Open reads the variable once per process: this binary's first Open.
  ASSERT_EQ(setenv("KVMBED_KVM_FAULT", "KVM_RUN:soon:EIO", 1), 0);
  absl::StatusOr<std::unique_ptr<Kvm>> kvm = Kvm::Open("/nonexistent/kvm");
  unsetenv("KVMBED_KVM_FAULT");
  ASSERT_FALSE(kvm.ok());
  EXPECT_EQ(kvm.status().code(), absl::StatusCode::kInvalidArgument) << kvm.status();
  EXPECT_NE(kvm.status().message().find("KVMBED_KVM_FAULT=KVM_RUN:soon:EIO"), std::string::npos)
      << kvm.status();
}

TEST(HostError, MarkSurvivesCopiesAndIsNotOnOtherErrors) {
  absl::Status s = MarkHostError(absl::UnavailableError("KVM_RUN vCPU 0: EIO"));
  absl::Status copy = s;
  EXPECT_TRUE(IsHostError(copy));
  EXPECT_FALSE(IsHostError(absl::AbortedError("guest exception #UD")));
  EXPECT_FALSE(IsHostError(absl::OkStatus()));
  EXPECT_TRUE(MarkHostError(absl::OkStatus()).ok());
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  std::vector<int> out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) out.push_back(c);
  }
  return out;
}

TEST(VcpuPinning, AllowedOnlineCpusPass) {
  std::vector<int> allowed = AllowedCpus();
  ASSERT_FALSE(allowed.empty());
  EXPECT_TRUE(CheckHostCpusUsable(0, allowed).ok()) << CheckHostCpusUsable(0, allowed);
  // A missing online file proves nothing: only the CPU set counts.
  EXPECT_TRUE(CheckHostCpusUsable(0, allowed, "/nonexistent/online").ok());
}

TEST(VcpuPinning, CpuOutsideTheCpusetIsRefusedByName) {
  // Every CPU online, as far as the check knows; CPU 1023 is in no CPU set
  // this test runs with.
  std::string online = WriteFile("online-all", "0-1023\n");
  std::vector<int> allowed = AllowedCpus();
  ASSERT_NE(allowed.back(), 1023);
  absl::Status s = CheckHostCpusUsable(3, {allowed[0], 1023}, online);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsHostError(s));
  const std::string msg(s.message());
  EXPECT_NE(msg.find("cannot pin vcpu-3 to host CPUs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("host CPU(s) 1023 not in this process's CPU set ("), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("taskset or a cgroup cpuset"), std::string::npos) << msg;
}

TEST(VcpuPinning, CpuOutsideTheThreadsAffinityIsRefused) {
  std::vector<int> allowed = AllowedCpus();
  if (allowed.size() < 2) {
    // One CPU: restricting further is impossible; the 1023 case above
    // covers the rule.
    GTEST_SKIP() << "needs two allowed CPUs, have " << allowed.size();
  }
  // Narrow this thread to the first CPU, as `taskset -c` does to a process.
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(allowed[0], &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  absl::Status s = CheckHostCpusUsable(0, {allowed[1]});
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int c : allowed) CPU_SET(c, &all);
  ASSERT_EQ(sched_setaffinity(0, sizeof(all), &all), 0);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not in this process's CPU set"), std::string::npos) << s;
}

TEST(VcpuPinning, OfflineCpuIsRefusedAsOffline) {
  std::vector<int> allowed = AllowedCpus();
  // Pretend only the first allowed CPU is online.
  std::string online = WriteFile("online-one", std::to_string(allowed[0]) + "\n");
  const int other = allowed[0] == 0 ? 1 : 0;
  absl::Status s = CheckHostCpusUsable(1, {allowed[0], other}, online);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(IsHostError(s));
  const std::string msg(s.message());
  EXPECT_NE(msg.find("host CPU(s) " + std::to_string(other) + " offline (online: " +
                     std::to_string(allowed[0]) + ")"),
            std::string::npos)
      << msg;
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
