#include "hostipi/litmus.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace kvmbed {
namespace hostipi {

std::string LitmusOutcome::ToString() const {
  std::string out;
  for (int c = 0; c < cpus; ++c) {
    for (int r = 0; r < kLitmusRegs; ++r) {
      absl::StrAppend(&out, c, ":r", r, "=", regs[c][r], " ");
    }
  }
  absl::StrAppend(&out, "x=", mem[0], " y=", mem[1], " z=", mem[2]);
  for (int i = 3; i < kLitmusWords; ++i) {
    if (mem[i] != 0) absl::StrAppend(&out, " w", i, "=", mem[i]);
  }
  return out;
}

std::string LitmusResult::Summary(OrderingMode mode) const {
  std::vector<std::string> parts;
  for (const auto& [k, v] : outcomes) parts.push_back(absl::StrCat(v, "x[", k, "]"));
  return absl::StrCat(name, " (", OrderingModeName(mode), "): ", interesting,
                      " / ", iterations, " interesting in ",
                      absl::FormatDuration(wall_time), "; ",
                      absl::StrJoin(parts, ", "));
}

namespace {

void Fenced(CpuMemory& m, Fence f) {
  switch (f) {
    case Fence::kNone:
      break;
    case Fence::kLwsync:
      m.LightBarrier();
      break;
    case Fence::kSync:
      m.FullBarrier();
      break;
  }
}

const char* FenceName(Fence f) {
  switch (f) {
    case Fence::kNone:
      return "po";
    case Fence::kLwsync:
      return "lwsync";
    case Fence::kSync:
      return "sync";
  }
  return "?";
}

std::string ShapeName(const char* shape, Fence f0, Fence f1) {
  return absl::StrCat(shape, "+", FenceName(f0), "+", FenceName(f1));
}

// Two-thread spin barrier for native lock-step rounds. Each thread bumps
// its own counter and waits for the other's; after a while it yields, in
// case both threads share one host CPU.
struct alignas(64) Arrival {
  std::atomic<int64_t> n{0};
};

void Arrive(Arrival* mine, const Arrival* other, int64_t phase) {
  mine->n.store(phase, std::memory_order_seq_cst);
  int spins = 0;
  while (other->n.load(std::memory_order_acquire) < phase) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (++spins > 4000) {
      std::this_thread::yield();
      spins = 0;
    }
  }
}

// A shared start line for one round. Whoever arrives last at a spin
// barrier leaves it first (the other still has to see its store, ~100+ ns),
// which is longer than the reordering window, so the bodies would hardly
// ever overlap. Instead CPU 0 picks a start time a little in the future on
// the (invariant, cross-CPU) TSC and both spin until then; CPU 1's start is
// skewed by a few hundred ticks that change each round, sweeping the window.
inline uint64_t Ticks() {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return static_cast<uint64_t>(absl::GetCurrentTimeNanos());
#endif
}

inline void WaitUntil(uint64_t t) {
  while (Ticks() < t) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

constexpr uint64_t kStartLead = 3000;  // ticks from "go" to the start line

}  // namespace

SwarmDraw SwarmKnobs(const std::function<uint64_t()>& r, int cpus) {
  // Each knob from a short menu; the extremes matter most (a store held
  // for hundreds of scheduling points, a CPU that runs ten times as often
  // as the others, loads that nearly always read an older value).
  static constexpr double kDrain[] = {0.02, 0.05, 0.1, 0.25, 0.5, 0.9};
  static constexpr double kStale[] = {0.0, 0.1, 0.3, 0.6, 0.9};
  static constexpr double kDrop[] = {0.0, 0.25, 0.5, 0.9};
  static constexpr double kSlow[] = {0.0, 0.0, 0.2, 0.5};
  static constexpr int kSkew[] = {0, 2, 6, 16};
  static constexpr uint32_t kCpuWeight[] = {1, 1, 3, 10};
  static constexpr uint32_t kDrainWeight[] = {1, 1, 4, 30};
  static constexpr double kPause[] = {0.0, 0.0, 0.05, 0.2};
  static constexpr uint32_t kPauseTicks[] = {4, 16, 64};
  auto pick = [&r](const auto& menu) {
    return menu[r() % (sizeof(menu) / sizeof(menu[0]))];
  };
  SwarmDraw d;
  d.run.mode = OrderingMode::kEmulatedPower;
  d.run.drain_probability = pick(kDrain);
  d.run.stale_load_probability = pick(kStale);
  d.run.coherence_drop_probability = pick(kDrop);
  d.run.slow_store_probability = pick(kSlow);
  d.start_skew = pick(kSkew);
  d.run.pause_probability = pick(kPause);
  d.run.pause_ticks = pick(kPauseTicks);
  for (int c = 0; c < cpus; ++c) {
    d.run.cpu_weight.push_back(pick(kCpuWeight));
    d.run.drain_weight.push_back(pick(kDrainWeight));
  }
  return d;
}

namespace {

absl::StatusOr<LitmusResult> RunEmulated(const LitmusTest& test,
                                         const LitmusOptions& options) {
  LitmusResult result;
  result.name = test.name;
  const absl::Time start = absl::Now();
  auto sys = MemorySystem::Create(options.run);
  SharedWord words[kLitmusWords];
  words[0].name = "x";
  words[1].name = "y";
  words[2].name = "z";
  static const char* const kExtra[] = {"w3", "w4", "w5"};
  static_assert(kLitmusWords == 3 + sizeof(kExtra) / sizeof(kExtra[0]));
  for (int i = 3; i < kLitmusWords; ++i) words[i].name = kExtra[i - 3];
  const int n = static_cast<int>(test.cpu.size());
  LitmusOutcome out;
  std::vector<CpuBody> bodies;
  // Per-iteration idle counts (start_skew), from their own splitmix64
  // stream so the run still replays from (seed, options).
  int skew[kLitmusMaxCpus] = {};
  uint64_t skew_state = options.run.seed ^ 0x5eed5ca1e5eedULL;
  auto next_skew = [&skew_state]() {
    uint64_t z = (skew_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  for (int c = 0; c < n; ++c) {
    bodies.push_back([&, c](CpuMemory& m) {
      for (int i = 0; i < skew[c]; ++i) m.Relax();
      test.cpu[c](m, words, out.regs[c]);
    });
  }
  for (int64_t it = 0; it < options.iterations; ++it) {
    if ((it & 255) == 0 && absl::Now() - start > options.time_budget) break;
    for (auto& w : words) w.value.store(0);
    out = LitmusOutcome();
    out.cpus = n;
    int start_skew = options.start_skew;
    if (options.swarm) {
      const SwarmDraw d = SwarmKnobs(next_skew, n);
      absl::Status s = sys->Retune(d.run);
      if (!s.ok()) return s;
      start_skew = d.start_skew;
    }
    if (start_skew > 0) {
      for (int c = 0; c < n; ++c) {
        skew[c] = static_cast<int>(next_skew() % (static_cast<uint64_t>(start_skew) * c + 1));
      }
    }
    absl::Status s = sys->Run(bodies, options.time_budget);
    if (!s.ok()) return s;
    for (int i = 0; i < kLitmusWords; ++i) out.mem[i] = words[i].value.load();
    ++result.iterations;
    ++result.outcomes[out.ToString()];
    if (test.interesting(out)) {
      ++result.interesting;
      if (options.stop_after_interesting > 0 &&
          result.interesting >= options.stop_after_interesting) {
        break;
      }
    }
  }
  result.wall_time = absl::Now() - start;
  return result;
}

absl::StatusOr<LitmusResult> RunNative(const LitmusTest& test,
                                       const LitmusOptions& options) {
  LitmusResult result;
  result.name = test.name;
  auto sys = MemorySystem::Create(options.run);
  SharedWord words[kLitmusWords];
  words[0].name = "x";
  words[1].name = "y";
  words[2].name = "z";
  static const char* const kExtra[] = {"w3", "w4", "w5"};
  static_assert(kLitmusWords == 3 + sizeof(kExtra) / sizeof(kExtra[0]));
  for (int i = 3; i < kLitmusWords; ++i) words[i].name = kExtra[i - 3];
  LitmusOutcome out;
  Arrival arrive[2];
  const absl::Time start = absl::Now();

  // Round k: CPU 0 decides whether to go on and says so in `stop` before
  // the meeting at phase 2k+1 (CPU 1 reads it right after that meeting and
  // CPU 0 does not touch it again before the meeting at 2k+2), resets the
  // words, both run their body, meet at 2k+2, and CPU 0 records the outcome.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> start_line{0};
  auto cpu0 = [&](CpuMemory& m) {
    for (int64_t k = 0;; ++k) {
      bool done = k >= options.iterations || m.StopRequested() ||
                  (options.stop_after_interesting > 0 &&
                   result.interesting >= options.stop_after_interesting) ||
                  ((k & 15) == 15 &&
                   absl::Now() - start > options.time_budget);
      if (done) {
        stop.store(true, std::memory_order_relaxed);
        Arrive(&arrive[0], &arrive[1], 2 * k + 1);
        return;
      }
      for (auto& w : words) w.value.store(0, std::memory_order_relaxed);
      out = LitmusOutcome();
      start_line.store(Ticks() + kStartLead, std::memory_order_relaxed);
      Arrive(&arrive[0], &arrive[1], 2 * k + 1);
      WaitUntil(start_line.load(std::memory_order_relaxed));
      test.cpu[0](m, words, out.regs[0]);
      Arrive(&arrive[0], &arrive[1], 2 * k + 2);
      for (int i = 0; i < kLitmusWords; ++i) {
        out.mem[i] = words[i].value.load(std::memory_order_relaxed);
      }
      ++result.iterations;
      ++result.outcomes[out.ToString()];
      if (test.interesting(out)) ++result.interesting;
    }
  };
  auto cpu1 = [&](CpuMemory& m) {
    for (int64_t k = 0;; ++k) {
      Arrive(&arrive[1], &arrive[0], 2 * k + 1);
      if (stop.load(std::memory_order_relaxed)) return;
      // Skew in [-256, +512) ticks, a different one each round (37 is
      // prime to 768, so the sweep visits every value). SB shows best near
      // 0, R with CPU 1 starting a few hundred ticks late (measured here).
      uint64_t skew = (static_cast<uint64_t>(k) * 37) % 768;
      WaitUntil(start_line.load(std::memory_order_relaxed) + skew - 256);
      test.cpu[1](m, words, out.regs[1]);
      Arrive(&arrive[1], &arrive[0], 2 * k + 2);
    }
  };
  // The deadline is a safety net only; rounds stop on their own.
  absl::Status s = sys->Run({cpu0, cpu1}, options.time_budget + absl::Seconds(30));
  if (!s.ok()) return s;
  result.wall_time = absl::Now() - start;
  return result;
}

}  // namespace

absl::StatusOr<LitmusResult> RunLitmus(const LitmusTest& test,
                                       const LitmusOptions& options) {
  absl::Status valid = ValidateRunOptions(options.run);
  if (!valid.ok()) return valid;
  if (options.iterations <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LitmusOptions.iterations = ", options.iterations, ": must be >= 1"));
  }
  const size_t n = test.cpu.size();
  if (options.run.mode == OrderingMode::kEmulatedPower) {
    if (n < 1 || n > kLitmusMaxCpus) {
      return absl::InvalidArgumentError(
          absl::StrCat("litmus test ", test.name, " has ", n,
                       " CPUs: emulated-power runs 1 to ", kLitmusMaxCpus));
    }
    if (options.start_skew < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("LitmusOptions.start_skew = ", options.start_skew, ": must be >= 0"));
    }
    return RunEmulated(test, options);
  }
  if (n != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("litmus test ", test.name, " has ", n,
                     " CPUs: native lock-step runs exactly 2"));
  }
  return RunNative(test, options);
}

LitmusTest StoreBuffering(Fence f0, Fence f1) {
  LitmusTest t;
  t.name = ShapeName("SB", f0, f1);
  t.cpu.resize(2);
  t.cpu[0] = [f0](CpuMemory& m, SharedWord* w, uint64_t* r) {
    m.Store(w[0], 1);
    Fenced(m, f0);
    r[0] = m.Load(w[1]);
  };
  t.cpu[1] = [f1](CpuMemory& m, SharedWord* w, uint64_t* r) {
    m.Store(w[1], 1);
    Fenced(m, f1);
    r[0] = m.Load(w[0]);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.regs[0][0] == 0 && o.regs[1][0] == 0;
  };
  return t;
}

LitmusTest MessagePassing(Fence writer, Fence reader) {
  LitmusTest t;
  t.name = ShapeName("MP", writer, reader);
  t.cpu.resize(2);
  t.cpu[0] = [writer](CpuMemory& m, SharedWord* w, uint64_t*) {
    m.Store(w[0], 1);
    Fenced(m, writer);
    m.Store(w[1], 1);
  };
  t.cpu[1] = [reader](CpuMemory& m, SharedWord* w, uint64_t* r) {
    r[0] = m.Load(w[1]);
    Fenced(m, reader);
    r[1] = m.Load(w[0]);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.regs[1][0] == 1 && o.regs[1][1] == 0;
  };
  return t;
}

LitmusTest RShape(Fence f0, Fence f1) {
  LitmusTest t;
  t.name = ShapeName("R", f0, f1);
  t.cpu.resize(2);
  t.cpu[0] = [f0](CpuMemory& m, SharedWord* w, uint64_t*) {
    m.Store(w[0], 1);
    Fenced(m, f0);
    m.Store(w[1], 1);
  };
  t.cpu[1] = [f1](CpuMemory& m, SharedWord* w, uint64_t* r) {
    m.Store(w[1], 2);
    Fenced(m, f1);
    r[0] = m.Load(w[0]);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.mem[1] == 2 && o.regs[1][0] == 0;
  };
  return t;
}

LitmusTest TwoPlusTwoW(Fence f0, Fence f1) {
  LitmusTest t;
  t.name = ShapeName("2+2W", f0, f1);
  t.cpu.resize(2);
  t.cpu[0] = [f0](CpuMemory& m, SharedWord* w, uint64_t*) {
    m.Store(w[0], 1);
    Fenced(m, f0);
    m.Store(w[1], 2);
  };
  t.cpu[1] = [f1](CpuMemory& m, SharedWord* w, uint64_t*) {
    m.Store(w[1], 1);
    Fenced(m, f1);
    m.Store(w[0], 2);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.mem[0] == 1 && o.mem[1] == 1;
  };
  return t;
}

LitmusTest MessageByteThenHostIpi(Fence sender, Fence receiver) {
  LitmusTest t;
  t.name = ShapeName("MP(byte)", sender, receiver);
  t.cpu.resize(2);
  t.cpu[0] = [sender](CpuMemory& m, SharedWord* w, uint64_t*) {
    m.StoreByte(w[0], 1, 1);
    Fenced(m, sender);
    m.Store(w[1], 1);
  };
  t.cpu[1] = [receiver](CpuMemory& m, SharedWord* w, uint64_t* r) {
    r[0] = m.Load(w[1]);
    Fenced(m, receiver);
    r[1] = m.Load(w[0]);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.regs[1][0] == 1 && o.regs[1][1] == 0;
  };
  return t;
}

LitmusTest StoreVsExchange() {
  LitmusTest t;
  t.name = "W+xchg";
  t.cpu.resize(2);
  t.cpu[0] = [](CpuMemory& m, SharedWord* w, uint64_t*) { m.Store(w[0], 1); };
  t.cpu[1] = [](CpuMemory& m, SharedWord* w, uint64_t* r) {
    m.Relax();
    r[0] = m.Exchange(w[0], 2, /*fully_ordered=*/false);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.regs[1][0] == 0 && o.mem[0] == 2;
  };
  return t;
}

LitmusTest CoRR() {
  LitmusTest t;
  t.name = "CoRR";
  t.cpu.resize(2);
  t.cpu[0] = [](CpuMemory& m, SharedWord* w, uint64_t*) { m.Store(w[0], 1); };
  t.cpu[1] = [](CpuMemory& m, SharedWord* w, uint64_t* r) {
    r[0] = m.Load(w[0]);
    r[1] = m.Load(w[0]);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.regs[1][0] == 1 && o.regs[1][1] == 0;
  };
  return t;
}

LitmusTest SShape(Fence f0, Fence f1) {
  LitmusTest t;
  t.name = ShapeName("S", f0, f1);
  t.cpu.resize(2);
  t.cpu[0] = [f0](CpuMemory& m, SharedWord* w, uint64_t*) {
    m.Store(w[0], 2);
    Fenced(m, f0);
    m.Store(w[1], 1);
  };
  t.cpu[1] = [f1](CpuMemory& m, SharedWord* w, uint64_t* r) {
    r[0] = m.Load(w[1]);
    Fenced(m, f1);
    m.Store(w[0], 1);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.regs[1][0] == 1 && o.mem[0] == 2;
  };
  return t;
}

LitmusTest LoadBuffering(Fence f0, Fence f1) {
  LitmusTest t;
  t.name = ShapeName("LB", f0, f1);
  t.cpu.resize(2);
  t.cpu[0] = [f0](CpuMemory& m, SharedWord* w, uint64_t* r) {
    r[0] = m.Load(w[0]);
    Fenced(m, f0);
    m.Store(w[1], 1);
  };
  t.cpu[1] = [f1](CpuMemory& m, SharedWord* w, uint64_t* r) {
    r[0] = m.Load(w[1]);
    Fenced(m, f1);
    m.Store(w[0], 1);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.regs[0][0] == 1 && o.regs[1][0] == 1;
  };
  return t;
}

// Reads `w` until it is non-zero (3-CPU shapes: otherwise the chain of
// stores hardly ever reaches the last CPU before it has finished).
uint64_t SpinLoad(CpuMemory& m, SharedWord& w) {
  uint64_t v;
  while ((v = m.Load(w)) == 0 && !m.StopRequested()) m.Relax();
  return v;
}

LitmusTest Wrc(Fence f1, Fence f2) {
  LitmusTest t;
  t.name = absl::StrCat("WRC+", FenceName(f1), "+", FenceName(f2));
  t.cpu.resize(3);
  t.cpu[0] = [](CpuMemory& m, SharedWord* w, uint64_t*) { m.Store(w[0], 1); };
  t.cpu[1] = [f1](CpuMemory& m, SharedWord* w, uint64_t* r) {
    r[0] = SpinLoad(m, w[0]);
    Fenced(m, f1);
    m.Store(w[1], 1);
  };
  t.cpu[2] = [f2](CpuMemory& m, SharedWord* w, uint64_t* r) {
    r[0] = SpinLoad(m, w[1]);
    Fenced(m, f2);
    r[1] = m.Load(w[0]);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.regs[1][0] == 1 && o.regs[2][0] == 1 && o.regs[2][1] == 0;
  };
  return t;
}

LitmusTest Isa2(Fence f0, Fence f1, Fence f2) {
  LitmusTest t;
  t.name = absl::StrCat("ISA2+", FenceName(f0), "+", FenceName(f1), "+",
                        FenceName(f2));
  t.cpu.resize(3);
  t.cpu[0] = [f0](CpuMemory& m, SharedWord* w, uint64_t*) {
    m.Store(w[0], 1);
    Fenced(m, f0);
    m.Store(w[1], 1);
  };
  t.cpu[1] = [f1](CpuMemory& m, SharedWord* w, uint64_t* r) {
    r[0] = SpinLoad(m, w[1]);
    Fenced(m, f1);
    m.Store(w[2], 1);
  };
  t.cpu[2] = [f2](CpuMemory& m, SharedWord* w, uint64_t* r) {
    r[0] = SpinLoad(m, w[2]);
    Fenced(m, f2);
    r[1] = m.Load(w[0]);
  };
  t.interesting = [](const LitmusOutcome& o) {
    return o.regs[1][0] == 1 && o.regs[2][0] == 1 && o.regs[2][1] == 0;
  };
  return t;
}

}  // namespace hostipi
}  // namespace kvmbed
