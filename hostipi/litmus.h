// A small runner for litmus tests (2 CPUs; up to 4 in emulated-power) over the
// memory-ordering modes.
//
// A litmus test is two short bodies over a few shared words (x, y, ...)
// that start at 0; each body records what it read in its own registers.
// RunLitmus() runs the pair many times and counts the outcomes (registers
// plus final memory), e.g. "SB: r0=0 r1=0" observed 12 times in 10^5.
//
//  * kEmulatedPower: one MemorySystem::Run() per iteration on one system,
//    so the whole sequence replays from the seed.
//  * kNative: one Run() with two real threads that execute the iterations
//    in lock-step (both wait on a per-round counter before and after each
//    round; CPU 0 resets the words and records the outcome between rounds).
//
// Threading: RunLitmus() blocks its caller; the test's bodies run on the
// mode's threads/coroutines.
#ifndef KVMBED_HOSTIPI_LITMUS_H_
#define KVMBED_HOSTIPI_LITMUS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {

constexpr int kLitmusWords = 6;    // x, y, z, then w3..w5
constexpr int kLitmusRegs = 4;     // per CPU
constexpr int kLitmusMaxCpus = 4;  // native: exactly 2

// What one iteration ended with.
struct LitmusOutcome {
  int cpus = 2;
  uint64_t mem[kLitmusWords] = {};                // final x, y, z, w3..w5
  uint64_t regs[kLitmusMaxCpus][kLitmusRegs] = {};  // regs[cpu][i]
  // e.g. "0:r0=0 0:r1=0 0:r2=0 0:r3=0 1:r0=0 ... x=1 y=1 z=0" (w3..w5
  // only when one of them is not 0).
  std::string ToString() const;
};

using LitmusBody =
    std::function<void(CpuMemory& mem, SharedWord* words, uint64_t* regs)>;

struct LitmusTest {
  std::string name;   // e.g. "R+lwsync+sync"
  std::vector<LitmusBody> cpu;  // 2, or up to 4 (emulated-power only)
  // The relaxed outcome the test is about (e.g. SB's r0=0 && r1=0).
  std::function<bool(const LitmusOutcome&)> interesting;
};

// Which barrier a shape has on one CPU.
enum class Fence { kNone, kLwsync, kSync };

// The classic shapes (x = word 0, y = word 1).
// SB: 0: W x=1; f; R y | 1: W y=1; f; R x.   Interesting: both read 0.
LitmusTest StoreBuffering(Fence f0, Fence f1);
// MP: 0: W x=1; f; W y=1 | 1: R y; f; R x.  Interesting: y==1, x==0.
LitmusTest MessagePassing(Fence writer, Fence reader);
// R: 0: W x=1; f; W y=1 | 1: W y=2; f; R x. Interesting: final y==2, r==0.
// (The host_ipi shape: x = ipi_message, y = host_ipi, CPU 1 the target.)
LitmusTest RShape(Fence f0, Fence f1);
// 2+2W: 0: W x=1; f; W y=2 | 1: W y=1; f; W x=2. Interesting: x==1, y==1.
LitmusTest TwoPlusTwoW(Fence f0, Fence f1);
// The seed's scenario 1 as MP: x = ipi_message (byte 1 = the message, set
// with StoreByte as the kernel does), y = host_ipi.
// 0: x.byte1=1; f; W y=1 | 1: R y; f; R x.  Interesting: y==1, x==0.
LitmusTest MessageByteThenHostIpi(Fence sender, Fence receiver);
// RMW atomicity: 0: W x=1 | 1: r = xchg_relaxed(x, 2).
// Interesting: r==0 and final x==2 (x=1 would sit between the xchg's read
// and write: never allowed).
LitmusTest StoreVsExchange();
// CoRR: 0: W x=1 | 1: R x; R x. Interesting: r0==1, r1==0 (never allowed).
LitmusTest CoRR();
// S: 0: W x=2; f; W y=1 | 1: R y; f; W x=1. Interesting: r==1, final x==2.
LitmusTest SShape(Fence f0, Fence f1);
// LB: 0: R x; f; W y=1 | 1: R y; f; W x=1. Interesting: both read 1.
LitmusTest LoadBuffering(Fence f0, Fence f1);
// In the 3-CPU shapes CPUs 1 and 2 spin on their first load until it reads
// non-zero, so the chain of stores reaches the last CPU in time.
// WRC (3 CPUs): 0: W x=1 | 1: R x; f1; W y=1 | 2: R y; f2; R x.
// Interesting: 1 read x==1, 2 read y==1 and x==0.
LitmusTest Wrc(Fence f1, Fence f2);
// ISA2 (3 CPUs): 0: W x=1; f0; W y=1 | 1: R y; f1; W z=1 | 2: R z; f2; R x.
// Interesting: 1 read y==1, 2 read z==1 and x==0.
LitmusTest Isa2(Fence f0, Fence f1, Fence f2);

struct LitmusOptions {
  // Mode, seed (emulated), pinning (native) and emulation knobs.
  RunOptions run;
  int64_t iterations = 10000;  // upper bound on iterations
  // Stop early once the interesting outcome was seen this many times
  // (0 = never stop early).
  int64_t stop_after_interesting = 0;
  // Stop early after this much wall time.
  absl::Duration time_budget = absl::Seconds(10);
  // Emulated only: before its body, CPU c idles (Relax()) a number of
  // scheduling points drawn each iteration from [0, start_skew * c], so
  // later CPUs tend to start after earlier ones have run (the chains of
  // WRC, ISA2, RWC need that when nothing spins). 0: no skew.
  int start_skew = 0;
  // Emulated only: every iteration draws its own knobs (SwarmKnobs(): the
  // four probabilities of `run`, start_skew, per-CPU scheduling and drain
  // weights) from a fixed menu, from the same seeded stream as the skew, so
  // the run still replays from (seed, options). Spreads the iterations over
  // many corners of the legal behaviours (a CPU that runs far ahead, one
  // whose stores stay buffered while others' propagate, loads that read old
  // values late) instead of one setting's average. run's probabilities
  // and start_skew are then ignored.
  bool swarm = false;
};

// The knobs iteration draws of a swarm run: r is a source of 64-bit
// random numbers; `cpus` is the test's CPU count.
struct SwarmDraw {
  RunOptions run;  // the probabilities, cpu_weight, drain_weight, pause_ticks
  int start_skew = 0;
};
SwarmDraw SwarmKnobs(const std::function<uint64_t()>& r, int cpus);

struct LitmusResult {
  std::string name;
  int64_t iterations = 0;
  int64_t interesting = 0;
  std::map<std::string, int64_t> outcomes;  // ToString() -> count
  absl::Duration wall_time;
  // One line, e.g. "SB (emulated-power): 12 / 100000 interesting; ...".
  std::string Summary(OrderingMode mode) const;
};

// Runs `test` per `options`. Errors: bad options, thread set-up failures.
absl::StatusOr<LitmusResult> RunLitmus(const LitmusTest& test,
                                       const LitmusOptions& options);

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_LITMUS_H_
