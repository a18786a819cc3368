// Kicks against a real vCPU spinning in the guest (`jmp .` in long mode): a
// lost kick leaves the vCPU in the guest for good, so every wait below would
// run into its (generous, liveness-only) deadline and fail the test.
#include "vmm/vcpu_thread.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "vmm/test_vm.h"
#include "guest/abi.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm.h"
#include "vmm/x86_setup.h"

namespace kvmbed {
namespace vmm {
namespace {

class CountingHandler : public VcpuExitHandler, public VcpuHooks {
 public:
  absl::StatusOr<bool> HandleExit(Vcpu& vcpu, uint32_t reason) override {
    return absl::InternalError("unexpected exit " + ExitReasonName(reason));
  }
  void OnVcpuStopped(int vcpu, const absl::Status& status) override {
    stopped.store(true);
    ok.store(status.ok());
  }
  void AfterExit(int vcpu, uint32_t reason, bool kick_pending) override {
    exits.fetch_add(1);
    if (kick_pending) kicks_seen.fetch_add(1);
  }
  void BeforeEntry(int vcpu) override { entries.fetch_add(1); }

  std::atomic<uint64_t> exits{0}, kicks_seen{0}, entries{0};
  std::atomic<bool> stopped{false}, ok{false};
};

// A one-vCPU VM whose guest spins at the image base.
struct SpinVm {
  std::unique_ptr<Kvm> kvm;
  std::unique_ptr<GuestMemory> mem;
  std::unique_ptr<Vm> vm;
  std::unique_ptr<Vcpu> vcpu;
};

absl::StatusOr<SpinVm> MakeSpinVm() {
  SpinVm s;
  auto kvm = Kvm::Open();
  if (!kvm.ok()) return kvm.status();
  s.kvm = std::move(*kvm);
  auto mem = GuestMemory::Create(abi::kMinMemoryBytes);
  if (!mem.ok()) return mem.status();
  s.mem = std::move(*mem);
  auto vm = Vm::Create(*s.kvm);
  if (!vm.ok()) return vm.status();
  s.vm = std::move(*vm);
  absl::Status st = s.mem->Register(*s.vm);
  if (!st.ok()) return st;
  const uint8_t jmp_self[] = {0xeb, 0xfe};
  st = s.mem->Write(abi::kImageBase, jmp_self, sizeof(jmp_self));
  if (!st.ok()) return st;
  st = WriteBootTables(*s.mem, 1);
  if (!st.ok()) return st;
  auto vcpu = Vcpu::Create(*s.vm, 0);
  if (!vcpu.ok()) return vcpu.status();
  s.vcpu = std::move(*vcpu);
  auto cpuid = BaseGuestCpuid(*s.kvm);
  if (!cpuid.ok()) return cpuid.status();
  auto topo = MakeApicTopology(Topology{1, 1, 1}, 1);
  if (!topo.ok()) return topo.status();
  st = SetupLongModeVcpu(*s.vcpu, CpuidForVcpu(*cpuid, 0, *topo), abi::kImageBase);
  if (!st.ok()) return st;
  return s;
}

// Waits (liveness only) until pred() holds; false after 20 s.
template <typename Pred>
bool Eventually(Pred pred) {
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    sched_yield();
  }
  return true;
}

class VcpuThreadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KVMBED_SKIP_WITHOUT_KVM();
  }
};

TEST_F(VcpuThreadTest, EveryKickTakesTheVcpuOutOfTheGuest) {
  auto vm = MakeSpinVm();
  ASSERT_TRUE(vm.ok()) << vm.status();
  CountingHandler h;
  VcpuThread t(vm->vcpu.get(), TestHostCpus(), &h, &h);
  ASSERT_TRUE(t.Start().ok());
  ASSERT_TRUE(t.WaitPinned().ok());
  ASSERT_TRUE(Eventually([&] { return t.InGuest(); }));
  // The thread is named vcpu-<id> (visible in top/perf/gdb).
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/comm", static_cast<int>(t.Stats().tid));
  FILE* f = std::fopen(path, "r");
  ASSERT_NE(f, nullptr) << path;
  char comm[32] = {};
  ASSERT_NE(std::fgets(comm, sizeof(comm), f), nullptr);
  std::fclose(f);
  EXPECT_STREQ(comm, "vcpu-0\n");
  std::vector<absl::Duration> latency;
  for (uint64_t i = 1; i <= 500; ++i) {
    absl::Time t0 = absl::Now();
    t.Kick();
    ASSERT_TRUE(Eventually([&] { return h.kicks_seen.load() >= i; }))
        << "kick " << i << " lost: the vCPU stayed in the guest";
    latency.push_back(absl::Now() - t0);
  }
  // A figure for the record (kick -> exit seen by the hook), not a check.
  std::sort(latency.begin(), latency.end());
  std::printf("kick -> exit: median %s, p99 %s, max %s over %zu kicks\n",
              absl::FormatDuration(latency[latency.size() / 2]).c_str(),
              absl::FormatDuration(latency[latency.size() * 99 / 100]).c_str(),
              absl::FormatDuration(latency.back()).c_str(), latency.size());
  t.RequestStop();
  t.Join();
  EXPECT_TRUE(h.stopped.load());
  EXPECT_TRUE(h.ok.load());
  VcpuThreadStats s = t.Stats();
  EXPECT_EQ(s.kicks_sent, 501u);  // 500 + the stop
  EXPECT_GE(s.kicks_seen, 500u);
  EXPECT_GE(s.exits["KVM_EXIT_INTR"], 500u);
  EXPECT_EQ(s.affinity_in_force, TestHostCpus());
  EXPECT_FALSE(s.ran_on.empty());
  EXPECT_GE(h.entries.load(), h.exits.load());
}

TEST_F(VcpuThreadTest, KickBeforeStartIsNotLost) {
  auto vm = MakeSpinVm();
  ASSERT_TRUE(vm.ok()) << vm.status();
  CountingHandler h;
  VcpuThread t(vm->vcpu.get(), TestHostCpus(), &h, &h);
  t.Kick();  // immediate_exit is already set when the first KVM_RUN starts
  ASSERT_TRUE(t.Start().ok());
  ASSERT_TRUE(t.WaitPinned().ok());
  ASSERT_TRUE(Eventually([&] { return h.kicks_seen.load() >= 1; }));
  t.RequestStop();
  t.Join();
  EXPECT_TRUE(h.ok.load());
}

// The worst window: a kick that lands after the loop's last check and before
// KVM_RUN, with its signal already delivered (and wasted) outside the guest.
// A self-kick from BeforeEntry hits exactly that window, deterministically;
// only immediate_exit can save it.
class SelfKickHooks : public CountingHandler {
 public:
  void BeforeEntry(int vcpu) override {
    CountingHandler::BeforeEntry(vcpu);
    // The guest spins without exiting, so each entry after the first 200
    // kicks is only left by a kick that worked.
    if (kicks_seen.load() < 200 && thread != nullptr) thread->Kick();
  }
  VcpuThread* thread = nullptr;
};

TEST_F(VcpuThreadTest, KickInTheEntryWindowIsNotLost) {
  auto vm = MakeSpinVm();
  ASSERT_TRUE(vm.ok()) << vm.status();
  SelfKickHooks h;
  VcpuThread t(vm->vcpu.get(), TestHostCpus(), &h, &h);
  h.thread = &t;
  ASSERT_TRUE(t.Start().ok());
  ASSERT_TRUE(t.WaitPinned().ok());
  // Every entry self-kicks; each must come straight back out.
  ASSERT_TRUE(Eventually([&] { return h.kicks_seen.load() >= 200; }))
      << "a kick in the entry window was lost";
  t.RequestStop();
  t.Join();
  EXPECT_TRUE(h.ok.load());
}

TEST_F(VcpuThreadTest, StopRacingWithEntryIsNeverLost) {
  // Start/stop cycles hit the window between the loop's checks and KVM_RUN.
  auto vm = MakeSpinVm();
  ASSERT_TRUE(vm.ok()) << vm.status();
  for (int i = 0; i < 100; ++i) {
    CountingHandler h;
    VcpuThread t(vm->vcpu.get(), TestHostCpus(), &h, &h);
    ASSERT_TRUE(t.Start().ok());
  ASSERT_TRUE(t.WaitPinned().ok());
    if (i % 3 == 1) sched_yield();
    t.RequestStop();
    t.Join();  // a lost stop-kick hangs here (test timeout)
    ASSERT_TRUE(h.stopped.load());
  }
}

// The process's queued-signal count (SigQ) and the vCPU thread's pending
// signals and state, from /proc: evidence for a kick storm.
std::string SignalState(pid_t tid) {
  std::string out;
  auto grab = [&out](const std::string& path, std::initializer_list<const char*> keys) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return;
    char line[256];
    while (std::fgets(line, sizeof(line), f) != nullptr) {
      for (const char* k : keys) {
        if (std::strncmp(line, k, std::strlen(k)) == 0) out += line;
      }
    }
    std::fclose(f);
  };
  grab("/proc/self/status", {"SigQ:"});
  grab("/proc/self/task/" + std::to_string(tid) + "/status", {"State:", "SigPnd:"});
  return out;
}

// A thread that kicks `t` until it is destroyed: it is stopped and joined on
// every path out of a test, so a failed ASSERT cannot leave a joinable
// std::thread behind (which would abort the whole test binary).
class ScopedKicker {
 public:
  explicit ScopedKicker(VcpuThread* t)
      : thread_([this, t] {
          while (!done_.load()) {
            t->Kick();
            sched_yield();
          }
        }) {}
  ~ScopedKicker() { Stop(); }
  void Stop() {
    done_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

TEST_F(VcpuThreadTest, ConcurrentKickersWhileStopping) {
  auto vm = MakeSpinVm();
  ASSERT_TRUE(vm.ok()) << vm.status();
  CountingHandler h;
  VcpuThread t(vm->vcpu.get(), TestHostCpus(), &h, &h);
  ASSERT_TRUE(t.Start().ok());
  ASSERT_TRUE(t.WaitPinned().ok());
  {
    ScopedKicker kicker(&t);
    EXPECT_TRUE(Eventually([&] { return h.kicks_seen.load() >= 100; }))
        << "kicks sent " << t.Stats().kicks_sent << ", seen " << h.kicks_seen.load()
        << ", exits " << h.exits.load() << ", entries " << h.entries.load() << "\n"
        << SignalState(t.Stats().tid);
    t.RequestStop();
    t.Join();  // kicks keep arriving while joining: must not signal a joined thread
  }
  EXPECT_TRUE(h.stopped.load());
  EXPECT_TRUE(h.ok.load());
}

// A storm of kicks at a thread that has not taken them yet must leave one
// pending kick signal, not one per kick: a queue of real-time signals made a
// vCPU thread spend its time in signal delivery instead of its loop (kicks
// unseen for 20 s, SigQ at its limit, on nested SVM under QEMU TCG).
TEST(KickSignal, PendingKicksCoalesce) {
  int queued_kicks = -1;
  std::thread target([&] {
    sigset_t kick;
    sigemptyset(&kick);
    sigaddset(&kick, KickSignal());
    pthread_sigmask(SIG_BLOCK, &kick, nullptr);
    for (int i = 0; i < 1000; ++i) pthread_kill(pthread_self(), KickSignal());
    // Each sigtimedwait takes one queued instance.
    const timespec zero = {0, 0};
    queued_kicks = 0;
    while (sigtimedwait(&kick, nullptr, &zero) == KickSignal()) ++queued_kicks;
  });
  target.join();
  EXPECT_EQ(queued_kicks, 1) << "kick signal " << KickSignal() << " queues one instance per kick";
}

TEST(FormatCpuList, Ranges) {
  EXPECT_EQ(FormatCpuList({}), "-");
  EXPECT_EQ(FormatCpuList({3}), "3");
  EXPECT_EQ(FormatCpuList({0, 1, 2, 3, 6, 8, 9}), "0-3,6,8-9");
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
