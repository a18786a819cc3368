// Prints how fast each memory-ordering mode runs a doorbell-shaped workload
// (scheduled operations per second in emulated-power; round trips per
// second in both). Usage: memory_model_bench [seconds per case, default 2]
// [runs per case, default 1; with more, each case prints every run and the
// medians] [emulated: only the emulated-power cases]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {
namespace {

// CPU 0 sends a message to CPU 1 host_ipi-style and waits for the ack;
// CPU 1 waits for the doorbell, clears host_ipi, reads and clears the
// message word, acks. Roughly the operation mix of one host-IPI round trip
// (~20 operations plus spins).
struct Doorbell {
  SharedWord msg, hipi, bell, ack;
};

void Sender(CpuMemory& m, Doorbell& d, uint64_t* trips) {
  for (uint64_t i = 1; !m.StopRequested(); ++i) {
    m.FullBarrier();
    m.FetchOr(d.msg, 1 + (i & 1), /*fully_ordered=*/false);
    m.FullBarrier();
    m.Store(d.hipi, 1);
    m.FullBarrier();
    m.Signal(d.bell, i);
    while (m.Load(d.ack) != i) {
      if (m.StopRequested()) return;
      m.Relax();
    }
    ++*trips;
  }
}

void Receiver(CpuMemory& m, Doorbell& d) {
  for (uint64_t seen = 0; !m.StopRequested();) {
    uint64_t b = m.Load(d.bell);
    if (b == seen) {
      m.Relax();
      continue;
    }
    seen = b;
    if (m.Load(d.hipi) != 0) {
      m.Store(d.hipi, 0);
      m.FullBarrier();
      uint64_t bits = m.Exchange(d.msg, 0, /*fully_ordered=*/true);
      (void)bits;
    }
    m.LightBarrier();
    m.Store(d.ack, b);
  }
}

struct Figures {
  double mops = 0;   // M scheduled operations/s
  double trips = 0;  // round trips/s
};

Figures RunCase(OrderingMode mode, int pairs, bool trace, absl::Duration secs,
                std::vector<int> pin = {}) {
  RunOptions o;
  o.mode = mode;
  o.pin_cpus = pin;
  o.seed = 42;
  uint64_t events = 0;
  if (trace) o.trace = [&events](const MemoryTraceEvent&) { ++events; };
  auto sys = MemorySystem::Create(o);
  std::vector<Doorbell> bells(static_cast<size_t>(pairs));
  std::vector<uint64_t> trips(static_cast<size_t>(pairs), 0);
  std::vector<CpuBody> bodies;
  for (int p = 0; p < pairs; ++p) {
    bodies.push_back([&, p](CpuMemory& m) { Sender(m, bells[p], &trips[p]); });
    bodies.push_back([&, p](CpuMemory& m) { Receiver(m, bells[p]); });
  }
  absl::Status s = sys->Run(bodies, secs);
  if (!s.ok()) {
    std::printf("%s: %s\n", OrderingModeName(mode), s.ToString().c_str());
    return {};
  }
  RunStats st = sys->stats();
  double wall = absl::ToDoubleSeconds(st.wall_time);
  uint64_t total = 0;
  for (uint64_t t : trips) total += t;
  std::printf("%-15s cpus=%d trace=%-3s pinned=%-3s %8.2f M ops/s  %9.0f "
              "round trips/s  (%llu ops, %llu trips, %.2f s)\n",
              OrderingModeName(mode), 2 * pairs, trace ? "on" : "off",
              pin.empty() ? "no" : "yes",
              st.ops / wall / 1e6, total / wall,
              static_cast<unsigned long long>(st.ops),
              static_cast<unsigned long long>(total), wall);
  return {st.ops / wall / 1e6, total / wall};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void Case(int runs, OrderingMode mode, int pairs, bool trace, absl::Duration secs,
          std::vector<int> pin = {}) {
  std::vector<double> mops, trips;
  for (int i = 0; i < runs; ++i) {
    Figures f = RunCase(mode, pairs, trace, secs, pin);
    mops.push_back(f.mops);
    trips.push_back(f.trips);
  }
  if (runs > 1) {
    std::printf("%-15s cpus=%d trace=%-3s pinned=%-3s median of %d: %8.2f M ops/s  %9.0f "
                "round trips/s\n",
                OrderingModeName(mode), 2 * pairs, trace ? "on" : "off",
                pin.empty() ? "no" : "yes", runs, Median(mops), Median(trips));
  }
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed

int main(int argc, char** argv) {
  using namespace kvmbed::hostipi;
  absl::Duration secs = absl::Seconds(argc > 1 ? std::atof(argv[1]) : 2.0);
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  const bool emulated_only = argc > 3 && std::string(argv[3]) == "emulated";
  Case(runs, OrderingMode::kEmulatedPower, 1, false, secs);
  Case(runs, OrderingMode::kEmulatedPower, 1, true, secs);
  Case(runs, OrderingMode::kEmulatedPower, 4, false, secs);
  Case(runs, OrderingMode::kEmulatedPower, 28, false, secs);
  if (emulated_only) return 0;
  // Native figures depend on what else runs: a spinning thread whose peer
  // is descheduled waits out a time slice.
  Case(runs, OrderingMode::kNative, 1, false, secs);
  Case(runs, OrderingMode::kNative, 1, false, secs, {0, 1});
  return 0;
}
