#include "hostipi/memory_model.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace hostipi {
namespace {

using ::testing::HasSubstr;

std::vector<int> AllowedHostCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) out.push_back(c);
  }
  return out;
}

TEST(OrderingModeTest, ParsesAndNames) {
  EXPECT_EQ(*ParseOrderingMode("native"), OrderingMode::kNative);
  EXPECT_EQ(*ParseOrderingMode("emulated-power"), OrderingMode::kEmulatedPower);
  EXPECT_STREQ(OrderingModeName(OrderingMode::kEmulatedPower),
               "emulated-power");
  auto bad = ParseOrderingMode("tso");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("emulated-power"));
}

TEST(RunOptionsTest, RejectsBadFieldsByName) {
  RunOptions o;
  o.drain_probability = 1.5;
  EXPECT_THAT(std::string(ValidateRunOptions(o).message()),
              HasSubstr("RunOptions.drain_probability"));
  o = RunOptions();
  o.pin_cpus = {0, -3};
  EXPECT_THAT(std::string(ValidateRunOptions(o).message()),
              HasSubstr("RunOptions.pin_cpus[1]"));
  auto sys = MemorySystem::Create(o);
  absl::Status s = sys->Run({[](CpuMemory&) {}}, absl::Seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(NativeTest, RunsEveryBodyOnItsOwnNamedThread) {
  RunOptions o;
  auto sys = MemorySystem::Create(o);
  SharedWord counter;
  std::vector<std::string> names(3);
  std::vector<int> cpus(3, -1);
  std::vector<CpuBody> bodies;
  for (int i = 0; i < 3; ++i) {
    bodies.push_back([&, i](CpuMemory& m) {
      char buf[32] = {};
      pthread_getname_np(pthread_self(), buf, sizeof(buf));
      names[i] = buf;
      cpus[i] = m.cpu();
      for (int k = 0; k < 1000; ++k) m.FetchOr(counter, 0, true);
      m.FetchOr(counter, 1u << i, /*fully_ordered=*/false);
      m.FullBarrier();
      EXPECT_TRUE(m.BufferedStores().empty());
    });
  }
  ASSERT_TRUE(sys->Run(bodies, absl::Seconds(30)).ok());
  EXPECT_EQ(counter.value.load(), 7u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(names[i], "hcpu-" + std::to_string(i));
    EXPECT_EQ(cpus[i], i);
  }
  EXPECT_FALSE(sys->stats().deadline_expired);
}

TEST(NativeTest, PinsThreadsToTheGivenHostCpus) {
  std::vector<int> allowed = AllowedHostCpus();
  ASSERT_FALSE(allowed.empty());
  RunOptions o;
  o.pin_cpus = {allowed.back()};
  auto sys = MemorySystem::Create(o);
  std::vector<int> ran_on(2, -1);
  std::vector<CpuBody> bodies;
  for (int i = 0; i < 2; ++i) {
    bodies.push_back([&, i](CpuMemory&) { ran_on[i] = sched_getcpu(); });
  }
  ASSERT_TRUE(sys->Run(bodies, absl::Seconds(30)).ok());
  EXPECT_EQ(ran_on[0], allowed.back());
  EXPECT_EQ(ran_on[1], allowed.back());
}

TEST(NativeTest, PinningToAForbiddenCpuIsAClearErrorAndRunsNoBody) {
  RunOptions o;
  o.pin_cpus = {CPU_SETSIZE - 1};  // not a CPU of this machine
  auto sys = MemorySystem::Create(o);
  std::atomic<int> ran{0};
  absl::Status s = sys->Run({[&](CpuMemory&) { ran++; }}, absl::Seconds(30));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("RunOptions.pin_cpus[0]"));
  EXPECT_EQ(ran.load(), 0);
}

TEST(NativeTest, DeadlineRequestsStop) {
  RunOptions o;
  auto sys = MemorySystem::Create(o);
  SharedWord never;
  int64_t spun_ns = 0;
  absl::Status s = sys->Run(
      {[&](CpuMemory& m) {
        while (!m.StopRequested() && m.Load(never) == 0) m.Relax();
        spun_ns = m.NowNs();
      }},
      absl::Milliseconds(50));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(sys->stats().deadline_expired);
  EXPECT_GE(spun_ns, 50 * 1000 * 1000);
}

TEST(NativeTest, MessagePassingWithBarriersDeliversTheData) {
  // Sanity on real threads: data written before a barrier and a flag is
  // seen by whoever sees the flag and then passes its own barrier.
  RunOptions o;
  auto sys = MemorySystem::Create(o);
  SharedWord data, flag;
  uint64_t seen = 0;
  ASSERT_TRUE(sys->Run({[&](CpuMemory& m) {
                          m.Store(data, 42);
                          m.LightBarrier();
                          m.Store(flag, 1);
                        },
                        [&](CpuMemory& m) {
                          while (m.Load(flag) == 0) m.Relax();
                          m.LightBarrier();
                          seen = m.Load(data);
                        }},
                       absl::Seconds(30))
                  .ok());
  EXPECT_EQ(seen, 42u);
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
