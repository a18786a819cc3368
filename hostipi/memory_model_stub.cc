// TEMPORARY stand-in for hostipi/memory_model.cc (owned by the hostipi-mem
// branch) so the protocol can be built and tested before that lands. It is
// deleted when hostipi-mem is merged. Deliberately simple: loads are never
// reordered here, only stores (per-CPU buffer, random drain order, same-word
// order kept, lwsync = store epoch).
#include <ucontext.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {

const char* OrderingModeName(OrderingMode mode) {
  return mode == OrderingMode::kNative ? "native" : "emulated-power";
}

absl::StatusOr<OrderingMode> ParseOrderingMode(absl::string_view text) {
  if (text == "native") return OrderingMode::kNative;
  if (text == "emulated-power") return OrderingMode::kEmulatedPower;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ordering mode \"", text,
                   "\"; write native or emulated-power"));
}

namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class NativeSystem;

class NativeMemory : public CpuMemory {
 public:
  NativeMemory(int cpu, std::atomic<bool>* stop) : cpu_(cpu), stop_(stop) {}
  int cpu() const override { return cpu_; }
  uint64_t Load(SharedWord& w) override {
    return w.value.load(std::memory_order_relaxed);
  }
  void Store(SharedWord& w, uint64_t v) override {
    w.value.store(v, std::memory_order_relaxed);
  }
  uint64_t Exchange(SharedWord& w, uint64_t v, bool fo) override {
    return w.value.exchange(
        v, fo ? std::memory_order_seq_cst : std::memory_order_relaxed);
  }
  uint64_t FetchOr(SharedWord& w, uint64_t b, bool fo) override {
    return w.value.fetch_or(
        b, fo ? std::memory_order_seq_cst : std::memory_order_relaxed);
  }
  void FullBarrier() override {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  void LightBarrier() override {
    std::atomic_thread_fence(std::memory_order_acq_rel);
  }
  void Signal(SharedWord& w, uint64_t v) override {
    w.value.store(v, std::memory_order_release);
  }
  void Relax() override { __builtin_ia32_pause(); }
  bool StopRequested() const override {
    return stop_->load(std::memory_order_relaxed);
  }
  std::vector<std::string> BufferedStores() const override { return {}; }
  int64_t NowNs() const override { return SteadyNs(); }

 private:
  int cpu_;
  std::atomic<bool>* stop_;
};

class NativeSystem : public MemorySystem {
 public:
  explicit NativeSystem(RunOptions o) : options_(std::move(o)) {}
  absl::Status Run(const std::vector<CpuBody>& bodies,
                   absl::Duration deadline) override {
    std::atomic<int> left{static_cast<int>(bodies.size())};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < bodies.size(); ++i) {
      threads.emplace_back([&, i] {
        if (!options_.pin_cpus.empty()) {
          cpu_set_t set;
          CPU_ZERO(&set);
          CPU_SET(options_.pin_cpus[i % options_.pin_cpus.size()], &set);
          pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
        }
        NativeMemory mem(static_cast<int>(i), &stop_);
        bodies[i](mem);
        left.fetch_sub(1);
      });
    }
    absl::Time end = absl::Now() + deadline;
    while (left.load() > 0) {
      if (absl::Now() >= end) stop_.store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (auto& t : threads) t.join();
    return absl::OkStatus();
  }
  void RequestStop() override { stop_.store(true); }

 private:
  RunOptions options_;
  std::atomic<bool> stop_{false};
};

// ---- emulated ----

class EmuSystem;

struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return (Next() >> 11) * (1.0 / 9007199254740992.0); }
};

class EmuMemory : public CpuMemory {
 public:
  struct Entry {
    SharedWord* w;
    uint64_t v;
    uint64_t epoch;
  };
  EmuMemory(int cpu, EmuSystem* sys) : cpu_(cpu), sys_(sys) {}
  int cpu() const override { return cpu_; }
  uint64_t Load(SharedWord& w) override;
  void Store(SharedWord& w, uint64_t v) override;
  uint64_t Exchange(SharedWord& w, uint64_t v, bool fo) override;
  uint64_t FetchOr(SharedWord& w, uint64_t b, bool fo) override;
  void FullBarrier() override;
  void LightBarrier() override;
  void Signal(SharedWord& w, uint64_t v) override;
  void Relax() override;
  bool StopRequested() const override;
  std::vector<std::string> BufferedStores() const override {
    std::vector<std::string> out;
    for (const Entry& e : buf_) out.push_back(absl::StrCat(e.w->name, "=", e.v));
    return out;
  }
  int64_t NowNs() const override;

  void DrainAll() {
    for (const Entry& e : buf_) e.w->value.store(e.v, std::memory_order_relaxed);
    buf_.clear();
  }
  void DrainWord(SharedWord& w) {
    // Drains every entry up to and including the last one for w, in order
    // (keeps lwsync epochs and same-word order intact).
    size_t last = buf_.size();
    for (size_t i = 0; i < buf_.size(); ++i)
      if (buf_[i].w == &w) last = i;
    if (last == buf_.size()) return;
    for (size_t i = 0; i <= last; ++i)
      buf_[i].w->value.store(buf_[i].v, std::memory_order_relaxed);
    buf_.erase(buf_.begin(), buf_.begin() + last + 1);
  }
  void MaybeDrainOne(Rng& rng, double p) {
    if (buf_.empty() || rng.Uniform() >= p) return;
    uint64_t min_epoch = buf_[0].epoch;
    size_t n = 0;
    while (n < buf_.size() && buf_[n].epoch == min_epoch) ++n;
    size_t i = rng.Next() % n;
    for (size_t j = 0; j < i; ++j) {
      if (buf_[j].w == buf_[i].w) {
        i = j;
        break;
      }
    }
    buf_[i].w->value.store(buf_[i].v, std::memory_order_relaxed);
    buf_.erase(buf_.begin() + i);
  }

  ucontext_t ctx;
  std::vector<char> stack;
  bool done = false;

 private:
  void Yield();
  int cpu_;
  EmuSystem* sys_;
  std::vector<Entry> buf_;
  uint64_t epoch_ = 0;
};

class EmuSystem : public MemorySystem {
 public:
  explicit EmuSystem(RunOptions o) : options_(std::move(o)) {
    rng_.s = options_.seed;
  }
  absl::Status Run(const std::vector<CpuBody>& bodies,
                   absl::Duration deadline) override {
    end_ns_ = SteadyNs() + absl::ToInt64Nanoseconds(deadline);
    bodies_ = &bodies;
    for (size_t i = 0; i < bodies.size(); ++i) {
      mems_.push_back(std::make_unique<EmuMemory>(static_cast<int>(i), this));
    }
    for (size_t i = 0; i < bodies.size(); ++i) {
      EmuMemory* m = mems_[i].get();
      m->stack.resize(512 * 1024);
      getcontext(&m->ctx);
      m->ctx.uc_stack.ss_sp = m->stack.data();
      m->ctx.uc_stack.ss_size = m->stack.size();
      m->ctx.uc_link = &main_;
      uintptr_t p = reinterpret_cast<uintptr_t>(this);
      makecontext(&m->ctx, reinterpret_cast<void (*)()>(&Trampoline), 3,
                  static_cast<int>(p & 0xffffffff), static_cast<int>(p >> 32),
                  static_cast<int>(i));
    }
    size_t left = bodies.size();
    while (left > 0) {
      size_t i = rng_.Next() % mems_.size();
      if (mems_[i]->done) continue;
      current_ = static_cast<int>(i);
      swapcontext(&main_, &mems_[i]->ctx);
      if (mems_[i]->done) {
        mems_[i]->DrainAll();
        --left;
      }
      if ((++ticks_ & 0xfff) == 0 && SteadyNs() > end_ns_) stop_ = true;
    }
    return absl::OkStatus();
  }
  static void Trampoline(int lo, int hi, int i) {
    uintptr_t p = static_cast<uint32_t>(lo) |
                  (static_cast<uintptr_t>(static_cast<uint32_t>(hi)) << 32);
    EmuSystem* self = reinterpret_cast<EmuSystem*>(p);
    (*self->bodies_)[i](*self->mems_[i]);
    self->mems_[i]->done = true;
  }
  void RequestStop() override { stop_ = true; }
  void YieldFrom(EmuMemory* m) {
    m->MaybeDrainOne(rng_, options_.drain_probability);
    swapcontext(&m->ctx, &main_);
  }

  RunOptions options_;
  Rng rng_;
  ucontext_t main_;
  std::vector<std::unique_ptr<EmuMemory>> mems_;
  const std::vector<CpuBody>* bodies_ = nullptr;
  int current_ = -1;
  int64_t ticks_ = 0;
  int64_t end_ns_ = 0;
  std::atomic<bool> stop_{false};
};

void EmuMemory::Yield() { sys_->YieldFrom(this); }
uint64_t EmuMemory::Load(SharedWord& w) {
  Yield();
  for (auto it = buf_.rbegin(); it != buf_.rend(); ++it)
    if (it->w == &w) return it->v;
  return w.value.load(std::memory_order_relaxed);
}
void EmuMemory::Store(SharedWord& w, uint64_t v) {
  Yield();
  buf_.push_back({&w, v, epoch_});
}
uint64_t EmuMemory::Exchange(SharedWord& w, uint64_t v, bool fo) {
  Yield();
  if (fo) DrainAll(); else DrainWord(w);
  uint64_t old = w.value.load(std::memory_order_relaxed);
  w.value.store(v, std::memory_order_relaxed);
  return old;
}
uint64_t EmuMemory::FetchOr(SharedWord& w, uint64_t b, bool fo) {
  Yield();
  if (fo) DrainAll(); else DrainWord(w);
  uint64_t old = w.value.load(std::memory_order_relaxed);
  w.value.store(old | b, std::memory_order_relaxed);
  return old;
}
void EmuMemory::FullBarrier() {
  Yield();
  DrainAll();
}
void EmuMemory::LightBarrier() {
  Yield();
  ++epoch_;
}
void EmuMemory::Signal(SharedWord& w, uint64_t v) {
  Yield();
  w.value.store(v, std::memory_order_relaxed);
}
void EmuMemory::Relax() { Yield(); }
bool EmuMemory::StopRequested() const { return sys_->stop_.load(); }
int64_t EmuMemory::NowNs() const { return sys_->ticks_; }

}  // namespace

std::unique_ptr<MemorySystem> MemorySystem::Create(const RunOptions& options) {
  if (options.mode == OrderingMode::kNative)
    return std::make_unique<NativeSystem>(options);
  return std::make_unique<EmuSystem>(options);
}

}  // namespace hostipi
}  // namespace kvmbed
