// ThreadStoreBuffers: the emulated-power store buffer of real threads.
#include <atomic>
#include <chrono>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {
namespace {

struct Fixture {
  explicit Fixture(absl::Duration hold, absl::Duration period = absl::ZeroDuration(),
                   uint64_t seed = 1) {
    ThreadStoreBufferOptions o;
    o.max_hold = hold;
    o.drain_period = period;
    o.seed = seed;
    auto b = ThreadStoreBuffers::Create(o);
    EXPECT_TRUE(b.ok()) << b.status();
    buffers = std::move(*b);
  }
  std::unique_ptr<CpuMemory> Cpu(int i) {
    return buffers->NewCpu(i, &stop, std::chrono::steady_clock::now());
  }
  std::atomic<bool> stop{false};
  std::unique_ptr<ThreadStoreBuffers> buffers;
};

TEST(ThreadStoreBuffersTest, RejectsBadOptions) {
  ThreadStoreBufferOptions o;
  o.max_hold = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<ThreadStoreBuffers>> b = ThreadStoreBuffers::Create(o);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("max_hold"), std::string::npos) << b.status();
  o.max_hold = absl::Milliseconds(1);
  o.capacity = 0;
  EXPECT_FALSE(ThreadStoreBuffers::Create(o).ok());
}

// A store is the writer's at once and everybody's only once drained.
TEST(ThreadStoreBuffersTest, ForwardsOwnStoreAndHidesItFromOthers) {
  Fixture f(absl::Seconds(1), absl::Seconds(1));
  SharedWord w;
  w.name = "w";
  auto a = f.Cpu(0);
  auto b = f.Cpu(1);
  int hidden = 0;
  for (int i = 1; i <= 20; ++i) {
    a->Store(w, i);
    EXPECT_EQ(a->Load(w), static_cast<uint64_t>(i));
    if (b->Load(w) != static_cast<uint64_t>(i)) ++hidden;
    a->FullBarrier();
    EXPECT_EQ(b->Load(w), static_cast<uint64_t>(i)) << "FullBarrier must drain";
    EXPECT_TRUE(a->BufferedStores().empty());
  }
  // Holds are uniform in [0, 1 s]: nearly every store is still buffered
  // when the other CPU looks straight after it.
  EXPECT_GE(hidden, 15);
}

TEST(ThreadStoreBuffersTest, ByteStoresMergeWithOtherBytes) {
  Fixture f(absl::Seconds(1), absl::Seconds(1));
  SharedWord w;
  w.name = "msg";
  auto a = f.Cpu(0);
  auto b = f.Cpu(1);
  a->StoreByte(w, 1, 1);
  b->StoreByte(w, 3, 1);
  EXPECT_EQ(a->Load(w), uint64_t{1} << 8);
  ASSERT_EQ(a->BufferedStores().size(), 1u);
  EXPECT_EQ(a->BufferedStores()[0], "msg.byte1=1");
  a->FullBarrier();
  b->FullBarrier();
  EXPECT_EQ(w.value.load(), (uint64_t{1} << 8) | (uint64_t{1} << 24));
  // A relaxed RMW on the word first drains the CPU's own store to it.
  a->StoreByte(w, 1, 0);
  EXPECT_EQ(a->Exchange(w, 0, /*fully_ordered=*/false), (uint64_t{1} << 24));
  EXPECT_EQ(w.value.load(), 0u);
}

// The drainer makes a store visible after its hold though its CPU does
// nothing more (a vCPU thread in its guest).
TEST(ThreadStoreBuffersTest, DrainerEmptiesIdleCpus) {
  Fixture f(absl::Milliseconds(2));
  SharedWord w[8];
  auto a = f.Cpu(0);
  for (int i = 0; i < 8; ++i) {
    a->LightBarrier();  // each store in its own lwsync epoch
    a->Store(w[i], 7);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  bool all = false;
  while (!all && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
    all = true;
    for (auto& x : w) all = all && x.value.load() == 7;
  }
  EXPECT_TRUE(all) << "stores still buffered after 10 s with a 2 ms hold";
  ThreadStoreBuffers::Stats s = f.buffers->GetStats();
  EXPECT_EQ(s.buffered, 8);
  EXPECT_EQ(s.drained_by_drainer + s.drained_by_hold, 8);
}

// Polls the shared words until both are visible; whether `second` was ever
// visible while `first` was not.
bool SecondSeenFirst(CpuMemory& cpu, SharedWord& first, SharedWord& second) {
  bool seen = false;
  while (first.value.load() == 0 || second.value.load() == 0) {
    if (second.value.load() != 0 && first.value.load() == 0) seen = true;
    cpu.Relax();  // drains what is due
  }
  return seen;
}

// Stores with no barrier between them may become visible out of order;
// lwsync keeps them in order; stores to one word never reorder.
TEST(ThreadStoreBuffersTest, StoreStoreOrderOnlyWithLightBarrier) {
  Fixture f(absl::Milliseconds(4), absl::Seconds(1));  // only the owner drains
  auto a = f.Cpu(0);
  int reordered = 0, reordered_lwsync = 0, coherence_broken = 0;
  for (int round = 0; round < 40; ++round) {
    SharedWord x, y;
    a->Store(x, 1);
    a->Store(y, 1);
    if (SecondSeenFirst(*a, x, y)) ++reordered;
    SharedWord p, q;
    a->Store(p, 1);
    a->LightBarrier();
    a->Store(q, 1);
    if (SecondSeenFirst(*a, p, q)) ++reordered_lwsync;
    SharedWord z;
    a->Store(z, 1);
    a->Store(z, 2);
    uint64_t last = 0;
    while (z.value.load() != 2) {
      const uint64_t v = z.value.load();
      if (v < last) ++coherence_broken;
      last = v;
      a->Relax();
    }
    a->FullBarrier();
  }
  EXPECT_GT(reordered, 0) << "unfenced stores never drained out of order";
  EXPECT_EQ(reordered_lwsync, 0);
  EXPECT_EQ(coherence_broken, 0);
}

// The R shape of the seed's scenario 2 on two real threads: receiver
// `W hipi=0; [mb]; R msg`, sender `W msg=1; mb; W hipi=1; mb`. Lost =
// final hipi 0 and the receiver read msg 0. Allowed without the receiver's
// barrier, forbidden with it.
int LostRounds(bool mb_after_clear, int rounds) {
  Fixture f(absl::Microseconds(300));
  auto recv = f.Cpu(0);
  auto send = f.Cpu(1);
  std::atomic<int> go{0}, done{0};
  SharedWord hipi, msg;
  int lost = 0;
  std::thread sender([&] {
    for (int r = 1; r <= rounds; ++r) {
      while (go.load() != r) {
      }
      send->Store(msg, 1);
      send->FullBarrier();
      send->Store(hipi, 1);
      send->FullBarrier();
      done.store(r);
    }
  });
  for (int r = 1; r <= rounds; ++r) {
    hipi.value.store(1);
    msg.value.store(0);
    go.store(r);
    recv->Store(hipi, 0);
    if (mb_after_clear) recv->FullBarrier();
    const uint64_t seen = recv->Load(msg);
    while (done.load() != r) {
    }
    recv->FullBarrier();
    if (hipi.value.load() == 0 && seen == 0) ++lost;
  }
  sender.join();
  return lost;
}

TEST(ThreadStoreBuffersTest, ScenarioTwoLostOnlyWithoutBarrierAfterClear) {
  EXPECT_GT(LostRounds(/*mb_after_clear=*/false, 300), 0);
  EXPECT_EQ(LostRounds(/*mb_after_clear=*/true, 300), 0);
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
