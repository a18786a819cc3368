// Memory-ordering modes for the modelled host CPUs. See memory_model.h for
// the interface and memory_model_emulated.cc for the emulated POWER rules.
#include "hostipi/memory_model.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/cpuset.h"
#include "hostipi/memory_model_internal.h"

namespace kvmbed {
namespace hostipi {

const char* MemoryOpName(MemoryOp op) {
  switch (op) {
    case MemoryOp::kLoad:
      return "load";
    case MemoryOp::kStore:
      return "store";
    case MemoryOp::kStoreByte:
      return "store-byte";
    case MemoryOp::kDrain:
      return "drain";
    case MemoryOp::kCoherenceDrop:
      return "coherence-drop";
    case MemoryOp::kExchange:
      return "xchg";
    case MemoryOp::kFetchOr:
      return "fetch-or";
    case MemoryOp::kFullBarrier:
      return "sync";
    case MemoryOp::kLightBarrier:
      return "lwsync";
    case MemoryOp::kSignal:
      return "signal";
    case MemoryOp::kRelax:
      return "relax";
  }
  return "?";
}

namespace {

absl::Status CheckProbability(double p, const char* field) {
  if (!(p >= 0.0 && p <= 1.0)) {  // also rejects NaN
    return absl::InvalidArgumentError(
        absl::StrCat("RunOptions.", field, " = ", p,
                     ": must be a probability in [0, 1]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRunOptions(const RunOptions& options) {
  absl::Status s = CheckProbability(options.drain_probability,
                                    "drain_probability");
  if (!s.ok()) return s;
  s = CheckProbability(options.stale_load_probability,
                       "stale_load_probability");
  if (!s.ok()) return s;
  s = CheckProbability(options.coherence_drop_probability,
                       "coherence_drop_probability");
  if (!s.ok()) return s;
  s = CheckProbability(options.slow_store_probability, "slow_store_probability");
  if (!s.ok()) return s;
  s = CheckProbability(options.pause_probability, "pause_probability");
  if (!s.ok()) return s;
  if (options.pause_ticks == 0 || options.pause_ticks > (1u << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RunOptions.pause_ticks = ", options.pause_ticks, ": must be in [1, 2^20]"));
  }
  for (const auto* weights : {&options.cpu_weight, &options.drain_weight}) {
    const char* name = weights == &options.cpu_weight ? "cpu_weight" : "drain_weight";
    for (size_t i = 0; i < weights->size(); ++i) {
      if ((*weights)[i] == 0 || (*weights)[i] > (1u << 20)) {
        return absl::InvalidArgumentError(
            absl::StrCat("RunOptions.", name, "[", i, "] = ", (*weights)[i],
                         ": must be in [1, 2^20] (leave the vector empty for uniform)"));
      }
    }
  }
  if (options.mode == OrderingMode::kEmulatedPower &&
      options.drain_probability == 0.0) {
    return absl::InvalidArgumentError(
        "RunOptions.drain_probability = 0: buffered stores would only drain "
        "at barriers, so spin loops could never see another CPU's store; use "
        "a value in (0, 1]");
  }
  for (size_t i = 0; i < options.pin_cpus.size(); ++i) {
    int c = options.pin_cpus[i];
    if (c < 0 || c >= CPU_SETSIZE) {
      return absl::InvalidArgumentError(
          absl::StrCat("RunOptions.pin_cpus[", i, "] = ", c,
                       ": not a host CPU number (0..", CPU_SETSIZE - 1, ")"));
    }
  }
  if (options.coroutine_stack_bytes < 16 * 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("RunOptions.coroutine_stack_bytes = ",
                     options.coroutine_stack_bytes,
                     ": too small; use at least 16384 (default 262144)"));
  }
  return absl::OkStatus();
}

namespace {

// A pause hint for spin loops: PAUSE on x86, YIELD on Arm.
inline void CpuPause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

// kNative: the hardware decides. Every modelled CPU is a real thread.
//
// Threading: one NativeCpu per thread; only that thread calls it, except
// StopRequested()/NowNs() which only read shared atomics/constants.
class NativeCpu final : public CpuMemory {
 public:
  NativeCpu(int cpu, const std::atomic<bool>* stop,
            std::chrono::steady_clock::time_point start)
      : cpu_(cpu), stop_(stop), start_(start) {}

  int cpu() const override { return cpu_; }

  uint64_t Load(SharedWord& w) override {
    return w.value.load(std::memory_order_relaxed);
  }

  void Store(SharedWord& w, uint64_t v) override {
    w.value.store(v, std::memory_order_relaxed);
  }

  // A relaxed single-byte store through the GCC builtin on the byte's
  // address (mixed-size access: fine on x86 and every Linux host CPU).
  void StoreByte(SharedWord& w, int byte, uint8_t v) override {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    const int offset = 7 - byte;
#else
    const int offset = byte;
#endif
    auto* p = reinterpret_cast<uint8_t*>(&w.value) + offset;
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
  }

  // On x86 every locked read-modify-write (XCHG, LOCK OR) is itself a full
  // fence whatever the C++ order, so fully_ordered=false only relaxes the
  // compiler here; on weaker hosts (Arm, POWER) it is a real difference.
  uint64_t Exchange(SharedWord& w, uint64_t v, bool fully_ordered) override {
    return w.value.exchange(v, fully_ordered ? std::memory_order_seq_cst
                                             : std::memory_order_relaxed);
  }

  // See Exchange: LOCK OR on x86 is a full fence either way.
  uint64_t FetchOr(SharedWord& w, uint64_t bits, bool fully_ordered) override {
    return w.value.fetch_or(bits, fully_ordered ? std::memory_order_seq_cst
                                                : std::memory_order_relaxed);
  }

  // MFENCE (or an equivalent locked op) on x86: drains the store buffer.
  void FullBarrier() override {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }

  // acq_rel fence: on x86-TSO only a compiler barrier (TSO already keeps
  // load->load, load->store and store->store order); lwsync on POWER.
  void LightBarrier() override {
    std::atomic_thread_fence(std::memory_order_acq_rel);
  }

  // A plain relaxed store: we deliberately do not fence here, because a
  // fence would hide the very reorderings of earlier stores that native mode
  // exists to show (on POWER msgsnd is not ordered with earlier stores
  // either; the kernel puts a sync before it).
  void Signal(SharedWord& w, uint64_t v) override {
    w.value.store(v, std::memory_order_relaxed);
  }

  void Relax() override { CpuPause(); }

  bool StopRequested() const override {
    return stop_->load(std::memory_order_relaxed);
  }

  std::vector<std::string> BufferedStores() const override { return {}; }

  int64_t NowNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now() - start_)
        .count();
  }

 private:
  const int cpu_;
  const std::atomic<bool>* const stop_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace

std::unique_ptr<CpuMemory> NewNativeCpuMemory(int cpu, const std::atomic<bool>* stop,
                                              std::chrono::steady_clock::time_point start) {
  return std::make_unique<NativeCpu>(cpu, stop, start);
}

namespace {

// Threading: Run() from one thread at a time; RequestStop() from anywhere.
class NativeSystem final : public MemorySystem {
 public:
  explicit NativeSystem(RunOptions options) : options_(std::move(options)) {}

  absl::Status Run(const std::vector<CpuBody>& bodies,
                   absl::Duration deadline) override {
    absl::Status valid = ValidateRunOptions(options_);
    if (!valid.ok()) return valid;
    const absl::Time wall_start = absl::Now();
    stop_.store(false);
    const int n = static_cast<int>(bodies.size());
    const auto start = std::chrono::steady_clock::now();

    std::vector<std::unique_ptr<NativeCpu>> cpus;
    for (int i = 0; i < n; ++i) {
      cpus.push_back(std::make_unique<NativeCpu>(i, &stop_, start));
    }
    // Every thread sets itself up (name, pinning), reports, then waits for
    // the gate so no body runs unless every thread could be set up.
    std::vector<absl::Status> setup(n);
    absl::Mutex mu;
    int ready = 0;  // guarded by mu
    int done = 0;   // guarded by mu
    absl::Notification gate;
    std::vector<std::thread> threads;
    threads.reserve(n);
    absl::Status spawn_error;
    for (int i = 0; i < n && spawn_error.ok(); ++i) {
      try {
        threads.emplace_back([&, i] {
        setup[i] = SetUpThisThread(i);
        {
          absl::MutexLock l(&mu);
          ++ready;
        }
        gate.WaitForNotification();
        if (setup_ok_.load()) bodies[i](*cpus[i]);
        absl::MutexLock l(&mu);
        ++done;
        });
      } catch (const std::system_error& e) {
        spawn_error = absl::ResourceExhaustedError(absl::StrCat(
            "starting the thread of modelled CPU ", i, " of ", n, ": ",
            e.what()));
      }
    }
    const int started = static_cast<int>(threads.size());
    {
      absl::MutexLock l(&mu);
      auto all_ready = [&]() { return ready == started; };
      mu.Await(absl::Condition(&all_ready));
    }
    if (!spawn_error.ok()) {
      setup_ok_.store(false);
      gate.Notify();
      for (auto& t : threads) t.join();
      return spawn_error;
    }
    absl::Status first_error;
    for (int i = 0; i < n && first_error.ok(); ++i) first_error = setup[i];
    setup_ok_.store(first_error.ok());
    gate.Notify();

    bool expired = false;
    {
      absl::MutexLock l(&mu);
      auto all_done = [&]() { return done == n; };
      expired = !mu.AwaitWithDeadline(
          absl::Condition(&all_done), wall_start + deadline);
    }
    if (expired) RequestStop();
    for (auto& t : threads) t.join();
    stats_.ops = 0;
    stats_.deadline_expired = expired;
    stats_.wall_time = absl::Now() - wall_start;
    return first_error;
  }

  void RequestStop() override { stop_.store(true); }

  RunStats stats() const override { return stats_; }

  absl::Status Retune(const RunOptions&) override {
    return absl::FailedPreconditionError(
        "MemorySystem::Retune: native mode has no emulation knobs (the hardware decides)");
  }

 private:
  // Names the calling thread hcpu-<i> and pins it per options_.pin_cpus.
  absl::Status SetUpThisThread(int i) {
    std::string name = absl::StrCat("hcpu-", i);
    name.resize(std::min<size_t>(name.size(), 15));
    pthread_setname_np(pthread_self(), name.c_str());  // cosmetic only
    if (options_.pin_cpus.empty()) return absl::OkStatus();
    size_t slot = static_cast<size_t>(i) % options_.pin_cpus.size();
    int host_cpu = options_.pin_cpus[slot];
    absl::Status pinned = PinThisThread({host_cpu}, absl::StrCat("modelled CPU ", i));
    if (!pinned.ok()) {
      return absl::Status(pinned.code(),
                          absl::StrCat(pinned.message(), " (RunOptions.pin_cpus[", slot,
                                       "]); use a CPU this process may run on"));
    }
    return absl::OkStatus();
  }

  const RunOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> setup_ok_{false};
  RunStats stats_;
};

}  // namespace

std::unique_ptr<MemorySystem> MemorySystem::Create(const RunOptions& options) {
  if (options.mode == OrderingMode::kEmulatedPower) {
    return internal::CreateEmulatedPowerSystem(options);
  }
  return std::make_unique<NativeSystem>(options);
}

}  // namespace hostipi
}  // namespace kvmbed
