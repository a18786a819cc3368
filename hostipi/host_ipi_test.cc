#include "hostipi/host_ipi.h"

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hostipi/workload.h"

namespace kvmbed {
namespace hostipi {
namespace {

using ::testing::HasSubstr;

// Collects stall reports from any thread.
class Reports {
 public:
  StallSink Sink(StallAction on_lost) {
    return [this, on_lost](const StallReport& r) {
      absl::MutexLock lock(&mu_);
      reports_.push_back(r);
      return r.verdict == StallVerdict::kLost ? on_lost
                                              : StallAction::kKeepWaiting;
    };
  }
  std::vector<StallReport> Get() {
    absl::MutexLock lock(&mu_);
    return reports_;
  }

 private:
  absl::Mutex mu_;
  std::vector<StallReport> reports_ ABSL_GUARDED_BY(mu_);
};

KernelModel Model(const char* text) {
  absl::StatusOr<KernelModel> m = KernelModel::Parse(text);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

TEST(TraceRingTest, KeepsTheLastEventsInOrder) {
  TraceRing ring;
  for (int i = 0; i < TraceRing::kCapacity + 10; ++i) {
    ring.Add(/*t=*/100 + i, TraceKind::kMsgsnd, /*a=*/i, /*b=*/2 * i, i % 2);
  }
  std::vector<TraceEvent> ev = ring.Snapshot(/*cpu=*/7, /*max=*/5);
  ASSERT_EQ(ev.size(), 5u);
  for (int k = 0; k < 5; ++k) {
    const int i = TraceRing::kCapacity + 5 + k;
    EXPECT_EQ(ev[k].t, 100 + i);
    EXPECT_EQ(ev[k].a, static_cast<uint64_t>(i));
    EXPECT_EQ(ev[k].b, static_cast<uint64_t>(2 * i));
    EXPECT_EQ(ev[k].flag, i % 2 == 1);
    EXPECT_EQ(ev[k].cpu, 7);
    EXPECT_EQ(ev[k].kind, TraceKind::kMsgsnd);
  }
  EXPECT_EQ(ring.Snapshot(0).size(), static_cast<size_t>(TraceRing::kCapacity));
}

// A ring that collects events about its owner from other CPUs names each
// event's writer.
TEST(TraceRingTest, NamesTheWriterWhenItIsNotTheOwner) {
  using Ring = EventRing<TraceKind, 8>;
  Ring ring;
  ring.Add(1, TraceKind::kMsgsnd, 0, 0, false, /*writer_cpu=*/3);
  ring.Add(2, TraceKind::kDemux);
  ring.Add(3, TraceKind::kMsgsnd, 0, 0, true, /*writer_cpu=*/0);
  ring.Add(4, TraceKind::kMsgsnd, 0, 0, true, Ring::kMaxWriterCpu);
  std::vector<TraceEvent> ev = ring.Snapshot(/*owner_cpu=*/5);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].cpu, 3);
  EXPECT_EQ(ev[1].cpu, 5);
  EXPECT_EQ(ev[2].cpu, 0);
  EXPECT_TRUE(ev[2].flag);
  EXPECT_EQ(ev[3].cpu, Ring::kMaxWriterCpu);
  EXPECT_EQ(ev[3].kind, TraceKind::kMsgsnd);
}

TEST(HostIpiPlaneOptionsTest, ValidateNamesTheField) {
  HostIpiPlane::Options o;
  EXPECT_TRUE(HostIpiPlane::Validate(o).ok());
  o.num_cpus = 65;
  EXPECT_THAT(std::string(HostIpiPlane::Validate(o).message()),
              HasSubstr("num_cpus=65 is out of range; use 1..64"));
  o.num_cpus = 2;
  o.stall_threshold_ns = 0;
  EXPECT_THAT(std::string(HostIpiPlane::Validate(o).message()),
              HasSubstr("stall_threshold_ns=0 must be > 0"));
}

TEST(MessageNamesTest, FormatsBits) {
  EXPECT_EQ(MessageBitsToString(0), "none");
  EXPECT_EQ(MessageBitsToString(1u << kCallFunction | 1u << kReschedule),
            "CALL_FUNCTION|RESCHEDULE");
  EXPECT_EQ(MessageBitsToString(1u << kNmiIpi), "NMI_IPI");
}

// A fixed kernel model under the seed-like load: every call completes and
// no stall is reported.
void RunFixed(OrderingMode mode, const char* model, int cpus,
              int64_t doorbells) {
  std::unique_ptr<MemorySystem> sys =
      MemorySystem::Create({mode, /*seed=*/7, {}, 0.25});
  Reports reports;
  HostIpiPlane::Options po;
  po.num_cpus = cpus;
  po.model = Model(model);
  po.mode = mode;
  po.stall_threshold_ns =
      mode == OrderingMode::kNative ? 2'000'000'000 : 200'000;
  StallSink record = reports.Sink(StallAction::kAbort);
  po.sink = [&](const StallReport& r) {
    if (r.verdict == StallVerdict::kLost) sys->RequestStop();  // fail fast
    return record(r);
  };
  HostIpiPlane plane(po);
  WorkloadOptions w;
  w.stop_after_doorbells = doorbells;
  w.request_stop = [&] { sys->RequestStop(); };
  w.guest_slice = mode == OrderingMode::kNative ? 1000 : 40;
  ASSERT_TRUE(sys->Run(MakeWorkload(plane, w), absl::Seconds(20)).ok());
  const PlaneStats s = plane.Stats();
  EXPECT_GE(s.doorbells_sent, doorbells) << "ran out of time";
  EXPECT_EQ(s.stalls_lost, 0);
  for (const StallReport& r : reports.Get()) {
    EXPECT_NE(r.verdict, StallVerdict::kLost) << FormatStallReport(r);
  }
  EXPECT_GT(s.calls_completed, 0);
  EXPECT_GT(s.csds_run, 0);
  EXPECT_GT(s.messages_handled[kCallFunction], 0);
  EXPECT_GT(s.messages_handled[kReschedule], 0);
}

TEST(HostIpiPlaneTest, FixedModelEmulatedIsClean) {
  RunFixed(OrderingMode::kEmulatedPower, "v5.4", 4, 20'000);
}

TEST(HostIpiPlaneTest, FixedModelWithPeekEmulatedIsClean) {
  RunFixed(OrderingMode::kEmulatedPower, "v5.4,demux=peek", 4, 20'000);
}

TEST(HostIpiPlaneTest, FixedModelNativeIsClean) {
  RunFixed(OrderingMode::kNative, "v5.4,demux=peek", 2, 50'000);
}

// csdlock_debug-style re-send: a buggy model loses IPIs, the sink re-sends
// CALL_FUNCTION, the wait clears, and the soak goes on; the episode stays
// LOST.
TEST(HostIpiPlaneTest, ResendUnsticksALostIpiAndTheSoakGoesOn) {
  std::unique_ptr<MemorySystem> sys =
      MemorySystem::Create({OrderingMode::kEmulatedPower, 1});
  Reports reports;
  HostIpiPlane::Options po;
  po.num_cpus = 4;
  po.model = Model("v5.4,mb-after-clear=off,demux=peek");
  po.mode = OrderingMode::kEmulatedPower;
  po.stall_threshold_ns = 200'000;
  po.sink = reports.Sink(StallAction::kResend);
  HostIpiPlane plane(po);
  WorkloadOptions w;
  w.guest_slice = 40;
  w.stop_after_doorbells = 200'000;
  w.request_stop = [&] { sys->RequestStop(); };
  ASSERT_TRUE(sys->Run(MakeWorkload(plane, w), absl::Seconds(20)).ok());
  const PlaneStats s = plane.Stats();
  EXPECT_GE(s.doorbells_sent, 200'000);
  EXPECT_GE(s.stalls_lost, 1);
  int unstuck_lost = 0;
  for (const StallReport& r : reports.Get()) {
    if (r.kind == StallReport::Kind::kUnstuck &&
        r.verdict == StallVerdict::kLost) {
      ++unstuck_lost;
    }
  }
  EXPECT_GE(unstuck_lost, 1);
}

// A target that takes long to handle its doorbell (interrupts off) makes
// the caller wait past the threshold, but that is SLOW, never LOST, and it
// gets unstuck.
void RunSlowTarget(OrderingMode mode, int64_t threshold, int64_t delay) {
  std::unique_ptr<MemorySystem> sys = MemorySystem::Create({mode, 3, {}, 0.25});
  Reports reports;
  HostIpiPlane::Options po;
  po.num_cpus = 2;
  po.model = Model("v5.4");
  po.mode = mode;
  po.stall_threshold_ns = threshold;
  po.sink = reports.Sink(StallAction::kAbort);
  HostIpiPlane plane(po);
  plane.SetHandlerDelayForTest(1, delay);
  bool call_ok = false;
  std::vector<CpuBody> bodies = {
      [&](CpuMemory& mem) {
        plane.Attach(mem);
        call_ok = plane.CallFunctionSingle(mem, 1, kDoNothing, 0x2a, true);
        sys->RequestStop();
      },
      [&](CpuMemory& mem) {
        plane.Attach(mem);
        while (plane.RunGuest(mem, 1000) != HostIpiPlane::GuestExit::kStop) {
        }
      },
  };
  ASSERT_TRUE(sys->Run(bodies, absl::Seconds(20)).ok());
  EXPECT_TRUE(call_ok);
  std::vector<StallReport> got = reports.Get();
  ASSERT_GE(got.size(), 2u) << "expected a stall report and an unstuck one";
  EXPECT_EQ(got.front().kind, StallReport::Kind::kDetected);
  EXPECT_EQ(got.back().kind, StallReport::Kind::kUnstuck);
  // The delay spans several thresholds: later reports say Continued.
  bool continued = false;
  for (const StallReport& r : got) {
    if (r.kind == StallReport::Kind::kContinued) {
      continued = true;
      EXPECT_EQ(r.number, got.front().number);
      EXPECT_THAT(FormatStallHeadline(r),
                  HasSubstr("csd: Continued non-responsive CSD lock (#"));
    }
  }
  EXPECT_TRUE(continued);
  for (const StallReport& r : got) {
    EXPECT_EQ(r.verdict, StallVerdict::kSlow) << FormatStallReport(r);
    EXPECT_EQ(r.waiter_cpu, 0);
    EXPECT_EQ(r.target_cpu, 1);
  }
  const std::string text = FormatStallReport(got.front());
  EXPECT_THAT(text, HasSubstr("csd: Detected non-responsive CSD lock (#"));
  EXPECT_THAT(text, HasSubstr("on CPU#0, waiting "));
  EXPECT_THAT(text, HasSubstr("for CPU#01 do_nothing(0x2a)."));
  EXPECT_THAT(text, HasSubstr("target mode: in host"));
  EXPECT_THAT(text, HasSubstr("verdict: SLOW"));
  EXPECT_THAT(FormatStallReport(got.back()),
              HasSubstr("got unstuck on CPU#00"));
  const PlaneStats s = plane.Stats();
  EXPECT_EQ(s.stalls_lost, 0);
  EXPECT_EQ(s.stalls_slow, 1);
}

TEST(HostIpiPlaneTest, SlowTargetIsSlowNotLostEmulated) {
  RunSlowTarget(OrderingMode::kEmulatedPower, 20'000, 70'000);
}

TEST(HostIpiPlaneTest, SlowTargetIsSlowNotLostNative) {
  RunSlowTarget(OrderingMode::kNative, 20'000'000, 70'000'000);
}

// The kick hook is called for every doorbell (a vCPU thread would be
// kicked out of KVM_RUN there), and InGuest() follows EnterGuest/ExitPath.
TEST(HostIpiPlaneTest, KickHookAndGuestState) {
  std::unique_ptr<MemorySystem> sys =
      MemorySystem::Create({OrderingMode::kNative, 1, {}, 0.25});
  std::atomic<int> kicks{0};
  HostIpiPlane::Options po;
  po.num_cpus = 2;
  po.model = Model("v5.4");
  po.kick = [&](int cpu) {
    EXPECT_EQ(cpu, 1);
    kicks.fetch_add(1);
  };
  HostIpiPlane plane(po);
  std::atomic<bool> in_guest_seen{false};
  std::vector<CpuBody> bodies = {
      [&](CpuMemory& mem) {
        plane.Attach(mem);
        while (!plane.InGuest(1) && !mem.StopRequested()) mem.Relax();
        in_guest_seen = plane.InGuest(1);
        for (int i = 0; i < 10; ++i) {
          plane.SendReschedule(mem, 1);
          ASSERT_TRUE(plane.CallFunctionSingle(mem, 1, kFlushTlb, i, true));
        }
        sys->RequestStop();
      },
      [&](CpuMemory& mem) {
        plane.Attach(mem);
        // A vCPU thread's loop: enter, "KVM_RUN" until kicked, exit path.
        while (!mem.StopRequested()) {
          plane.EnterGuest(mem);
          while (kicks.load() == 0 && !mem.StopRequested()) mem.Relax();
          plane.ExitPath(mem);
          plane.InterruptPoint(mem);
        }
      },
  };
  ASSERT_TRUE(sys->Run(bodies, absl::Seconds(10)).ok());
  EXPECT_TRUE(in_guest_seen);
  EXPECT_EQ(kicks.load(), 20);
  const PlaneStats s = plane.Stats();
  EXPECT_EQ(s.doorbells_sent, 20);
  EXPECT_EQ(s.csds_run, 10);
  EXPECT_EQ(s.calls_completed, 10);
  EXPECT_FALSE(plane.InGuest(1));
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
