// ThreadStoreBuffers: emulated-power store buffers for modelled CPUs that
// are real threads (memory_model.h has the rules).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/atomic_max.h"
#include "hostipi/memory_model.h"

namespace kvmbed {
namespace hostipi {
namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Bits of byte `byte` of a word (value-level, as CpuMemory::StoreByte).
uint64_t ByteMask(int byte) { return uint64_t{0xff} << (8 * byte); }

// One buffered store: the whole word (byte < 0) or one byte of it.
struct Entry {
  SharedWord* word = nullptr;
  int byte = -1;
  uint64_t value = 0;
  int64_t due_ns = 0;     // steady clock; may drain from then on
  int64_t stored_ns = 0;  // when it entered the buffer
  uint64_t epoch = 0;     // LightBarriers before it
};

uint64_t Overlay(uint64_t v, const Entry& e) {
  if (e.byte < 0) return e.value;
  return (v & ~ByteMask(e.byte)) | ((e.value & 0xff) << (8 * e.byte));
}

// Makes one entry visible to every CPU. Release: whatever the committing
// thread saw (an earlier commit of the same CPU) is visible before it.
void Commit(const Entry& e) {
  if (e.byte < 0) {
    e.word->value.store(e.value, std::memory_order_release);
    return;
  }
  uint64_t old = e.word->value.load(std::memory_order_relaxed);
  while (!e.word->value.compare_exchange_weak(old, Overlay(old, e), std::memory_order_release,
                                              std::memory_order_relaxed)) {
  }
}

class BuffersImpl;

enum class DrainCause { kHold, kBarrier, kDrainer };

// Threading: one owner thread calls the CpuMemory operations; the drainer
// and BufferedStores() callers may lock mu_ from other threads.
class BufferedCpu final : public CpuMemory {
 public:
  BufferedCpu(BuffersImpl* owner, int cpu, const std::atomic<bool>* stop,
              std::chrono::steady_clock::time_point start, uint64_t seed);
  ~BufferedCpu() override;

  int cpu() const override { return native_->cpu(); }

  uint64_t Load(SharedWord& w) override {
    absl::MutexLock lock(&mu_);
    DrainExpiredLocked(SteadyNs(), DrainCause::kHold);
    uint64_t v = native_->Load(w);
    for (const Entry& e : entries_) {
      if (e.word == &w) v = Overlay(v, e);
    }
    return v;
  }

  void Store(SharedWord& w, uint64_t v) override { Buffer(w, -1, v); }

  void StoreByte(SharedWord& w, int byte, uint8_t v) override { Buffer(w, byte, v); }

  uint64_t Exchange(SharedWord& w, uint64_t v, bool fully_ordered) override {
    absl::MutexLock lock(&mu_);
    DrainForRmwLocked(w, fully_ordered);
    return native_->Exchange(w, v, fully_ordered);
  }

  uint64_t FetchOr(SharedWord& w, uint64_t bits, bool fully_ordered) override {
    absl::MutexLock lock(&mu_);
    DrainForRmwLocked(w, fully_ordered);
    return native_->FetchOr(w, bits, fully_ordered);
  }

  void FullBarrier() override {
    absl::MutexLock lock(&mu_);
    DrainAllLocked(DrainCause::kBarrier);
    native_->FullBarrier();
  }

  void LightBarrier() override {
    absl::MutexLock lock(&mu_);
    DrainExpiredLocked(SteadyNs(), DrainCause::kHold);
    ++epoch_;
    native_->LightBarrier();
  }

  void Signal(SharedWord& w, uint64_t v) override { native_->Signal(w, v); }

  void Relax() override {
    {
      absl::MutexLock lock(&mu_);
      DrainExpiredLocked(SteadyNs(), DrainCause::kHold);
    }
    native_->Relax();
  }

  bool StopRequested() const override { return native_->StopRequested(); }

  std::vector<std::string> BufferedStores() const override {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const Entry& e : entries_) {
      if (e.byte < 0) {
        out.push_back(absl::StrCat(e.word->name, "=", e.value));
      } else {
        out.push_back(absl::StrCat(e.word->name, ".byte", e.byte, "=", e.value & 0xff));
      }
    }
    return out;
  }

  int64_t NowNs() const override { return native_->NowNs(); }

  // The drainer: makes the stores whose hold has passed visible. Skips a
  // CPU whose owner is inside an operation (it drains its own buffer there),
  // so a preempted owner never holds the drainer up.
  void DrainExpired(int64_t now) {
    if (!mu_.TryLock()) return;
    DrainExpiredLocked(now, DrainCause::kDrainer);
    mu_.Unlock();
  }
  void DrainAll() {
    absl::MutexLock lock(&mu_);
    DrainAllLocked(DrainCause::kBarrier);
  }

 private:
  void Buffer(SharedWord& w, int byte, uint64_t v);
  void DrainExpiredLocked(int64_t now, DrainCause cause) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DrainAllLocked(DrainCause cause) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DrainForRmwLocked(SharedWord& w, bool fully_ordered) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CommitLocked(const Entry& e, DrainCause cause, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  BuffersImpl* const owner_;
  const std::unique_ptr<CpuMemory> native_;
  mutable absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rng_ ABSL_GUARDED_BY(mu_);
};

class BuffersImpl final : public ThreadStoreBuffers {
 public:
  explicit BuffersImpl(const ThreadStoreBufferOptions& o) : options_(o) {
    max_hold_ns_ = absl::ToInt64Nanoseconds(o.max_hold);
    period_ = o.drain_period > absl::ZeroDuration()
                  ? o.drain_period
                  : std::max(absl::Microseconds(50), o.max_hold / 4);
    drainer_ = std::thread([this] { DrainerLoop(); });
  }
  ~BuffersImpl() override { Shutdown(); }

  std::unique_ptr<CpuMemory> NewCpu(int cpu, const std::atomic<bool>* stop,
                                    std::chrono::steady_clock::time_point start) override {
    return std::make_unique<BufferedCpu>(this, cpu, stop, start,
                                         options_.seed * 0x9e3779b97f4a7c15ull + cpu + 1);
  }

  void Shutdown() override {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    if (drainer_.joinable()) drainer_.join();
    absl::MutexLock lock(&mu_);
    for (BufferedCpu* c : cpus_) c->DrainAll();
  }

  Stats GetStats() const override {
    Stats s;
    s.buffered = buffered_.load(std::memory_order_relaxed);
    s.drained_by_hold = by_hold_.load(std::memory_order_relaxed);
    s.drained_by_barrier = by_barrier_.load(std::memory_order_relaxed);
    s.drained_by_drainer = by_drainer_.load(std::memory_order_relaxed);
    s.max_held_ns = max_held_.load(std::memory_order_relaxed);
    return s;
  }

  void Register(BufferedCpu* c) {
    absl::MutexLock lock(&mu_);
    cpus_.push_back(c);
  }
  void Unregister(BufferedCpu* c) {
    absl::MutexLock lock(&mu_);
    cpus_.erase(std::remove(cpus_.begin(), cpus_.end(), c), cpus_.end());
  }

  int64_t max_hold_ns() const { return max_hold_ns_; }
  int capacity() const { return options_.capacity; }

  void Count(DrainCause cause, int64_t held_ns) {
    switch (cause) {
      case DrainCause::kHold:
        by_hold_.fetch_add(1, std::memory_order_relaxed);
        break;
      case DrainCause::kBarrier:
        by_barrier_.fetch_add(1, std::memory_order_relaxed);
        break;
      case DrainCause::kDrainer:
        by_drainer_.fetch_add(1, std::memory_order_relaxed);
        break;
    }
    AtomicMax(max_held_, held_ns);
  }
  void CountBuffered() { buffered_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void DrainerLoop() {
    absl::MutexLock lock(&mu_);
    while (!stopping_) {
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), period_);
      const int64_t now = SteadyNs();
      for (BufferedCpu* c : cpus_) c->DrainExpired(now);
    }
  }

  const ThreadStoreBufferOptions options_;
  int64_t max_hold_ns_ = 0;
  absl::Duration period_;
  mutable absl::Mutex mu_;  // before any BufferedCpu::mu_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<BufferedCpu*> cpus_ ABSL_GUARDED_BY(mu_);
  std::thread drainer_;
  std::atomic<int64_t> buffered_{0}, by_hold_{0}, by_barrier_{0}, by_drainer_{0}, max_held_{0};
};

BufferedCpu::BufferedCpu(BuffersImpl* owner, int cpu, const std::atomic<bool>* stop,
                         std::chrono::steady_clock::time_point start, uint64_t seed)
    : owner_(owner), native_(NewNativeCpuMemory(cpu, stop, start)), rng_(seed) {
  owner_->Register(this);
}

BufferedCpu::~BufferedCpu() {
  owner_->Unregister(this);
  DrainAll();
}

void BufferedCpu::Buffer(SharedWord& w, int byte, uint64_t v) {
  absl::MutexLock lock(&mu_);
  const int64_t now = SteadyNs();
  DrainExpiredLocked(now, DrainCause::kHold);
  if (static_cast<int>(entries_.size()) >= owner_->capacity()) {
    // A full store queue: the oldest store has to go first.
    CommitLocked(entries_.front(), DrainCause::kHold, now);
    entries_.erase(entries_.begin());
  }
  // SplitMix64 step: the hold is uniform in [0, max_hold].
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  const int64_t hold = static_cast<int64_t>(z % static_cast<uint64_t>(owner_->max_hold_ns() + 1));
  entries_.push_back(Entry{&w, byte, v, now + hold, now, epoch_});
  owner_->CountBuffered();
}

void BufferedCpu::CommitLocked(const Entry& e, DrainCause cause, int64_t now) {
  Commit(e);
  owner_->Count(cause, now - e.stored_ns);
}

void BufferedCpu::DrainExpiredLocked(int64_t now, DrainCause cause) {
  if (entries_.empty()) return;
  // An entry may drain once due unless an older pending store is to the
  // same word or sits before a LightBarrier that this one is after. Kept
  // entries are compacted to the front, so entries_[0] is the oldest still
  // pending one once keep > 0 (epochs only grow along the buffer).
  std::vector<const SharedWord*> older;  // words of older pending stores
  size_t keep = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry e = entries_[i];
    const bool blocked = (keep > 0 && entries_[0].epoch < e.epoch) ||
                         std::find(older.begin(), older.end(), e.word) != older.end();
    if (!blocked && e.due_ns <= now) {
      CommitLocked(e, cause, now);
      continue;
    }
    older.push_back(e.word);
    entries_[keep++] = e;
  }
  entries_.resize(keep);
}

void BufferedCpu::DrainAllLocked(DrainCause cause) {
  const int64_t now = SteadyNs();
  for (const Entry& e : entries_) CommitLocked(e, cause, now);
  entries_.clear();
}

void BufferedCpu::DrainForRmwLocked(SharedWord& w, bool fully_ordered) {
  if (fully_ordered) {
    DrainAllLocked(DrainCause::kBarrier);
    return;
  }
  DrainExpiredLocked(SteadyNs(), DrainCause::kHold);
  // Coherence: the CPU's own older stores to w come before its RMW; the
  // stores before them in the buffer go first so that lwsync order holds.
  size_t last = entries_.size();
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].word == &w) last = i;
  }
  if (last == entries_.size()) return;
  const int64_t now = SteadyNs();
  for (size_t i = 0; i <= last; ++i) CommitLocked(entries_[i], DrainCause::kBarrier, now);
  entries_.erase(entries_.begin(), entries_.begin() + last + 1);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ThreadStoreBuffers>> ThreadStoreBuffers::Create(
    const ThreadStoreBufferOptions& o) {
  if (o.max_hold <= absl::ZeroDuration() || o.max_hold > absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("store buffer max_hold = ", absl::FormatDuration(o.max_hold),
                     ": use a hold in (0, 1s], e.g. 1ms"));
  }
  if (o.drain_period < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("store buffer drain_period must be >= 0 (0 = automatic)");
  }
  if (o.capacity < 1 || o.capacity > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("store buffer capacity = ", o.capacity, ": use 1..1024"));
  }
  return std::unique_ptr<ThreadStoreBuffers>(new BuffersImpl(o));
}

}  // namespace hostipi
}  // namespace kvmbed
