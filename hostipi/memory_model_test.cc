#include "hostipi/memory_model.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstring>
#include <set>
#include <string>
#include <thread>
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
  o.slow_store_probability = -0.1;
  EXPECT_THAT(std::string(ValidateRunOptions(o).message()),
              HasSubstr("RunOptions.slow_store_probability"));
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


RunOptions Emulated(uint64_t seed) {
  RunOptions o;
  o.mode = OrderingMode::kEmulatedPower;
  o.seed = seed;
  return o;
}

TEST(EmulatedTest, RunsAllBodiesOnTheCallersThread) {
  auto sys = MemorySystem::Create(Emulated(7));
  SharedWord counter;
  std::vector<std::thread::id> ids(4);
  std::vector<CpuBody> bodies;
  for (int i = 0; i < 4; ++i) {
    bodies.push_back([&, i](CpuMemory& m) {
      ids[i] = std::this_thread::get_id();
      for (int k = 0; k < 100; ++k) m.FetchOr(counter, uint64_t{1} << i, false);
    });
  }
  ASSERT_TRUE(sys->Run(bodies, absl::Seconds(30)).ok());
  EXPECT_EQ(counter.value.load(), 15u);
  for (auto id : ids) EXPECT_EQ(id, std::this_thread::get_id());
  EXPECT_GE(sys->stats().ops, 400u);
}

TEST(EmulatedTest, StoresSitInTheBufferUntilABarrier) {
  RunOptions o = Emulated(3);
  o.drain_probability = 1e-9;  // effectively never drain by chance
  auto sys = MemorySystem::Create(o);
  SharedWord x;
  x.name = "x";
  std::vector<std::string> before, after;
  uint64_t own = 0, mem_before = 0;
  ASSERT_TRUE(sys->Run({[&](CpuMemory& m) {
                          m.Store(x, 5);
                          own = m.Load(x);  // forwarding
                          mem_before = x.value.load();
                          before = m.BufferedStores();
                          m.FullBarrier();
                          after = m.BufferedStores();
                        }},
                       absl::Seconds(30))
                  .ok());
  EXPECT_EQ(own, 5u);
  EXPECT_EQ(mem_before, 0u);
  EXPECT_EQ(before, std::vector<std::string>{"x=5"});
  EXPECT_TRUE(after.empty());
  EXPECT_EQ(x.value.load(), 5u);
}

TEST(EmulatedTest, RemainingStoresDrainWhenRunReturns) {
  RunOptions o = Emulated(3);
  o.drain_probability = 1e-9;
  auto sys = MemorySystem::Create(o);
  SharedWord x;
  ASSERT_TRUE(
      sys->Run({[&](CpuMemory& m) { m.Store(x, 9); }}, absl::Seconds(30)).ok());
  EXPECT_EQ(x.value.load(), 9u);
}

TEST(EmulatedTest, SpinLoopSeesAnotherCpusStoreAndMessagePassingHolds) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    auto sys = MemorySystem::Create(Emulated(seed));
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
    EXPECT_EQ(seen, 42u) << "seed " << seed;
  }
}

TEST(EmulatedTest, DeadlineStopsSpinningBodies) {
  auto sys = MemorySystem::Create(Emulated(1));
  SharedWord never;
  int64_t virtual_ns = 0;
  auto spin = [&](CpuMemory& m) {
    while (!m.StopRequested() && m.Load(never) == 0) m.Relax();
    virtual_ns = m.NowNs();
  };
  ASSERT_TRUE(sys->Run({spin, spin}, absl::Milliseconds(30)).ok());
  EXPECT_TRUE(sys->stats().deadline_expired);
  EXPECT_GT(virtual_ns, 1000);
  EXPECT_EQ(static_cast<uint64_t>(virtual_ns) <= sys->stats().ops, true);
}

// A small FNV-1a over every traced (time, cpu, op, word, value, old).
struct TraceHash {
  uint64_t h = 1469598103934665603ULL;
  uint64_t events = 0;
  void Mix(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ULL;
    }
  }
  void operator()(const MemoryTraceEvent& e) {
    ++events;
    Mix(static_cast<uint64_t>(e.time));
    Mix(static_cast<uint64_t>(e.cpu));
    Mix(static_cast<uint64_t>(e.op));
    Mix(e.word ? static_cast<uint64_t>(e.word->name[0]) : 0);
    Mix(e.value);
    Mix(e.old);
  }
};

// A little protocol: three CPUs pass a token around with plain stores and
// spin loads, with and without barriers, plus RMWs and a signal.
uint64_t RunAndHashTrace(uint64_t seed, uint64_t* events) {
  TraceHash th;
  RunOptions o = Emulated(seed);
  o.trace = [&th](const MemoryTraceEvent& e) { th(e); };
  auto sys = MemorySystem::Create(o);
  SharedWord a, b, c, d;
  a.name = "a";
  b.name = "b";
  c.name = "c";
  d.name = "d";
  std::vector<CpuBody> bodies = {
      [&](CpuMemory& m) {
        for (int i = 1; i <= 20; ++i) {
          m.Store(a, i);
          m.Store(c, i);
          m.LightBarrier();
          m.Store(b, i);
          while (m.Load(d) < static_cast<uint64_t>(i)) m.Relax();
        }
      },
      [&](CpuMemory& m) {
        for (int i = 1; i <= 20; ++i) {
          while (m.Load(b) < static_cast<uint64_t>(i)) m.Relax();
          m.Load(a);
          m.FetchOr(c, 1 << 10, i % 2 == 0);
          m.FullBarrier();
          m.Signal(d, i);
        }
      },
      [&](CpuMemory& m) {
        for (int i = 0; i < 200; ++i) m.Exchange(c, m.Load(a), false);
      }};
  absl::Status s = sys->Run(bodies, absl::Seconds(30));
  EXPECT_TRUE(s.ok()) << s;
  *events = th.events;
  return th.h;
}

TEST(EmulatedTest, SameSeedReplaysExactlyOtherSeedDiffers) {
  uint64_t e1 = 0, e2 = 0, e3 = 0;
  uint64_t h1 = RunAndHashTrace(12345, &e1);
  uint64_t h2 = RunAndHashTrace(12345, &e2);
  uint64_t h3 = RunAndHashTrace(54321, &e3);
  EXPECT_GT(e1, 500u);
  EXPECT_EQ(h1, h2);
  EXPECT_EQ(e1, e2);
  EXPECT_NE(h1, h3);
}

TEST(EmulatedTest, ReplaysAcrossManyRunsOfOneSystem) {
  auto run_many = [](uint64_t seed) {
    TraceHash th;
    RunOptions o = Emulated(seed);
    o.trace = [&th](const MemoryTraceEvent& e) { th(e); };
    auto sys = MemorySystem::Create(o);
    for (int k = 0; k < 50; ++k) {
      SharedWord x, y;
      x.name = "x";
      y.name = "y";
      EXPECT_TRUE(sys->Run({[&](CpuMemory& m) {
                              m.Store(x, 1);
                              m.Load(y);
                            },
                            [&](CpuMemory& m) {
                              m.Store(y, 1);
                              m.Load(x);
                            }},
                           absl::Seconds(30))
                      .ok());
    }
    return th.h;
  };
  EXPECT_EQ(run_many(99), run_many(99));
  EXPECT_NE(run_many(99), run_many(100));
}

// Pick() is the run's seeded PRNG when emulated (in range, replayed by the
// seed, not constant) and program order (0) natively.
TEST(PickTest, EmulatedReplaysFromTheSeedNativeIsProgramOrder) {
  auto picks = [](const RunOptions& o) {
    std::vector<uint64_t> out;
    auto sys = MemorySystem::Create(o);
    EXPECT_TRUE(sys->Run({[&](CpuMemory& m) {
                           for (int i = 0; i < 64; ++i) out.push_back(m.Pick(5));
                           out.push_back(m.Pick(1));
                         }},
                         absl::Seconds(30))
                    .ok());
    return out;
  };
  const std::vector<uint64_t> a = picks(Emulated(7));
  ASSERT_EQ(a.size(), 65u);
  EXPECT_EQ(a, picks(Emulated(7)));
  EXPECT_NE(a, picks(Emulated(8)));
  std::set<uint64_t> distinct(a.begin(), a.end() - 1);
  EXPECT_EQ(distinct.size(), 5u);
  EXPECT_LT(*distinct.rbegin(), 5u);
  EXPECT_EQ(a.back(), 0u);
  for (uint64_t v : picks(RunOptions())) EXPECT_EQ(v, 0u);
}

TEST(StoreByteTest, NativeWritesOnlyItsByte) {
  auto sys = MemorySystem::Create(RunOptions());
  SharedWord w;
  w.value = 0x1100000000000000ULL;
  std::vector<CpuBody> bodies;
  for (int b = 0; b < 4; ++b) {
    bodies.push_back([&, b](CpuMemory& m) {
      for (int k = 0; k < 10000; ++k) m.StoreByte(w, b, static_cast<uint8_t>(b + 1));
    });
  }
  ASSERT_TRUE(sys->Run(bodies, absl::Seconds(30)).ok());
  EXPECT_EQ(w.value.load(), 0x1100000004030201ULL);
}

TEST(StoreByteTest, EmulatedBytesNeverLoseEachOtherAndForward) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    RunOptions o = Emulated(seed);
    o.coherence_drop_probability = 1.0;
    o.stale_load_probability = 0.5;
    auto sys = MemorySystem::Create(o);
    SharedWord w;
    w.name = "msg";
    uint64_t seen0 = 0;
    std::vector<std::string> buffered;
    ASSERT_TRUE(sys->Run({[&](CpuMemory& m) {
                            m.StoreByte(w, 0, 1);
                            seen0 = m.Load(w);  // own byte forwarded
                            buffered = m.BufferedStores();
                          },
                          [&](CpuMemory& m) { m.StoreByte(w, 1, 1); },
                          [&](CpuMemory& m) { m.StoreByte(w, 3, 7); }},
                         absl::Seconds(30))
                    .ok());
    EXPECT_EQ(w.value.load(), 0x07000101u) << "seed " << seed;
    EXPECT_EQ(seen0 & 0xff, 1u);
    if (!buffered.empty()) {
      EXPECT_EQ(buffered, std::vector<std::string>{"msg.byte0=1"});
    }
  }
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
