// kEmulatedPower: every modelled CPU is a coroutine; all run on the thread
// that called Run(), so a run is a pure function of the seed and the bodies.
//
// ## The rules (what the emulation allows)
//
// Time. A scheduling point precedes every CpuMemory operation except
// StopRequested/BufferedStores/NowNs/cpu. At each one the virtual clock ticks,
// then with drain_probability one buffered store of a randomly chosen CPU
// (among CPUs with a non-empty buffer) leaves its buffer, then the PRNG picks
// which CPU performs the next operation (uniformly among live CPUs).
// Optional biases (RunOptions; off by default, and then nothing extra is
// drawn): cpu_weight / drain_weight make those two choices weighted per CPU,
// and pause_probability lets the CPU that just ran pause for a drawn number
// of scheduling points (when every live CPU pauses, time passes and stores
// drain with nobody running). They change only the odds of choices the rules
// below already allow, never what is allowed.
//
// Coherence order is one global order per word: SharedWord::value holds the
// newest value, and a store that drains takes its place in that order at
// once. Each word keeps its last 4 values for stale loads. Which of them a
// CPU may still read is what makes the mode not multi-copy atomic
// ("Propagation" below): a drained store may not have reached a CPU yet.
//
// Store buffer (per CPU, program order, at most 32 entries; a full buffer
// drains its oldest entry first):
//  * Store(w, v) appends an entry; StoreByte appends one that writes only
//    its byte (bytes are separate locations: a byte store drains into the
//    then-current word, so byte stores to different bytes never lose each
//    other). LightBarrier starts a new "epoch".
//  * An entry may drain when every entry of an earlier epoch has drained
//    (lwsync: store->store) and no older entry to the same word remains
//    (coherence). Among such entries the PRNG picks any: stores to
//    different words in one epoch become visible in any order. A store
//    drawn slow (slow_store_probability, default 0: no draw) is picked
//    only when no other entry of its CPU may drain, and then one attempt
//    in 8 (a legal order that makes long-held stores likely).
//  * Coherence drop (coherence_drop_probability, when a drain is attempted):
//    entry E of CPU B, word w, is instead ordered coherence-before the
//    current value of w and never becomes visible to others (B then reads
//    the current value). Allowed only if all of:
//      1. the current value of w was written by another CPU after E entered
//         B's buffer (so E may be ordered before it), and not by an atomic
//         RMW (its read and write are adjacent in coherence order),
//      2. E is B's oldest entry to w,
//      3. B made no store visible, and dropped none before a value written
//         later, since that current value was written,
//      4. every word of P = B's entries of earlier epochs than E was written
//         by nobody since then, no earlier drop is still "open", and the
//         last one closed (its P became visible) before the current value
//         of w was written.
//    If P is not empty the drop stays open until P has drained; while open,
//    any other CPU that is about to write a word of P first drains P (an
//    ordinary, always-legal drain). E may thus be ordered before the current
//    value while P (lwsync-before E) is still invisible: that is POWER's
//    "R+lwsync+sync allowed", and rules 3-4 keep cycles made only of
//    coherence and lwsync/sync order (2+2W+lwsyncs) impossible.
//  * Load(w): the CPU's own newest buffered store to w if any (forwarding);
//    otherwise, with stale_load_probability, any of w's last 4 values that
//    was still current at some moment after this CPU's last barrier and is
//    not older than a value this CPU already saw or wrote to w (loads are
//    satisfied out of order, coherence holds); otherwise the current value.
//  * FullBarrier (sync) drains the CPU's whole buffer at once and sets the
//    load floor to now. LightBarrier (lwsync) starts a new store epoch and
//    raises the load floor to the largest stamp of a write this CPU has
//    read (below), not to now (load->load order and cumulativity; a store
//    before it may still pass a load after it).
//
// Propagation (not multi-copy atomic). Every value carries a stamp, a
// placement number S: every write placed at or before S has reached any
// CPU that reads this value. A store with no barrier before it in its CPU
// carries the largest stamp its CPU had read when it executed (B-cumulativity
// through dependencies, and through po for what was read before it);
// one after an lwsync/sync also carries everything placed before that
// barrier (a superset of the barrier's group A) and its CPU's own earlier
// stores; Signal and RMWs carry "now" (as before: multi-copy atomic). A
// stale load may return a value replaced only after its floor, the floor
// being the CPU's last sync (now, then), the stamps its lwsyncs took in, and
// the token of what it depends on (LoadAfter: the stamp of the value the
// dependency read, not when it was placed). So after an lwsync a CPU may
// still read a value another CPU has long seen overwritten unless
// cumulativity says otherwise: IRIW+lwsyncs, WRC+addrs, WRC+po/data/ctrl+
// lwsync, W+RWC+lwsyncs, RWC+lwsync+sync become observable, while
// MP+lwsync+addr, WRC+lwsync+addr, ISA2+lwsyncs, IRIW+syncs stay
// forbidden. Stamps are times, so "everything placed before" stands for a
// barrier's group A: stronger than POWER, never weaker.
//  * StoreAfter(w, v, dep): a store whose address/data depends on `dep`; a
//    later load of the same CPU forwarded from it gets `dep` (or its floor)
//    as its token, not "now": chains through one's own store (rfi) order no
//    more than POWER.
//  * A CPU's read of a word carries the largest token (stamp or dependency)
//    of its earlier reads of that word that returned a coherence-earlier
//    value (those were satisfied first, CoRR), so MP+lwsync+[fr-rf]-addr
//    and DETOUR0654/0662-like shapes stay forbidden. A read that returns
//    the same write as an earlier one carries nothing from it: it may have
//    been satisfied first (MP0088, PPO002: R z; R z; R x addr).
//  * Exchange/FetchOr, fully_ordered (sync; RMW; sync): drain everything,
//    then read-modify-write the current value at once, load floor = now.
//    Relaxed: drain only what must precede the write (entries of earlier
//    epochs, and this CPU's entries to the same word), then RMW the current
//    value at once; other buffered stores stay buffered and pass it. The
//    RMW is visible at once, so unlike POWER it is never passed by a later
//    store (StoreByte is the way to model the kernel's message byte store).
//  * Signal(w, v): makes v visible at once (after the CPU's own buffered
//    stores to w, if any); other buffered stores are not drained.
//  * Relax(): just a scheduling point.
//  * NowNs(): the number of scheduling points so far in this Run().
//  * Pick(n): a draw from the run's PRNG, for code that models
//    out-of-order issue itself (power_litmus.cc's bridge).
//
// ## Where it differs from POWER
//
// Measured against the exhaustive POWER explorer (power_model.h) on the
// litmus suite (power_litmus.cc; power_model_test's
// SampledOutcomesAreReachable, 20 000 iterations per test) and against
// herdtools7's POWER campaign (hostipi/README.md, "The herdtools7
// catalogue"): every outcome this mode produced is reachable on POWER, and
// it never produced a forbidden one.
//  * Stronger (POWER allows, this mode never produces):
//    - Propagation is tracked by times, not per write: after a CPU's own
//      sync it reads only current values, and a barrier carries everything
//      placed before it, not just its group A. So WRC+data+sync,
//      W+RWC+lwsync+addr+sync, Z6.3+lwsyncs and Z6.3+lwsync+lwsync+addr
//      never show; WWC and WWC+addrs need a store to be ordered before a
//      value its own CPU's chain already read, which drops never do.
//    - Operations of one CpuMemory user happen in program order: a load is
//      satisfied before the next operation starts, so a store never becomes
//      visible before an earlier load of its CPU (no load buffering in the
//      protocol code or litmus.h's hand-written shapes). The litmus bridge
//      (power_litmus.cc, ToSampledTest) issues a program's instructions out
//      of order itself, with Pick(), where POWER allows a store to commit or
//      a load to be satisfied before earlier pending instructions: LB,
//      LB+data+po, S+lwsync+po and DETOUR shapes show there.
//    - Coherence drops are restricted conservatively (rules 3-4, whole-word
//      stores only), so some legal coherence orders are never produced.
//    - Stale loads choose among a word's last 4 values only.
//    - Stores to one word stay in program order even when they write
//      different bytes (POWER may reorder those).
//    - A relaxed RMW becomes visible at once: never passed by later stores.
//  * Dependencies: an address dependency (and ctrl+isync before a load) is
//    honoured only when the code says so with CpuMemory::LoadAfter(): the
//    dependent load reads nothing replaced before the stamp of the value
//    the load it depends on read (that load's DepToken). A plain Load()
//    carries no dependency, so code that relies on one must use
//    LoadAfter() (the host-IPI protocol relies on none). Data and control
//    dependencies to stores need nothing here (a CpuMemory store never
//    passes an earlier load; the litmus bridge keeps a dependent store
//    after its source); StoreAfter() passes them on to forwarded loads.
//  * Weaker: none known (0 forbidden outcomes seen over the catalogue's
//    forbidden tests that the sampled runner takes). Before LoadAfter()
//    existed, MP+lwsync+addr, MP+sync+addr and WRC+lwsync+addr showed their
//    forbidden outcomes; a forwarded load taking only its store's token
//    showed MP+PPO243-like shapes until an isync after a branch was made to
//    wait for every earlier access (power_litmus.cc's sampled bridge); it
//    now waits for what POWER's commit conditions chain to (IsyncToken()),
//    which keeps those forbidden and lets MP+lwsync+data-po-ctrlisync show.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hostipi/memory_model_internal.h"

// -DKVMBED_HOSTIPI_UCONTEXT forces the portable (slow) switch on x86-64,
// so that path can be tested here.
#if defined(__x86_64__) && !defined(KVMBED_HOSTIPI_UCONTEXT)
#define KVMBED_HOSTIPI_ASM_SWITCH 1
#else
#define KVMBED_HOSTIPI_ASM_SWITCH 0
#include <ucontext.h>
#endif

// ---------------------------------------------------------------------------
// Context switch. swapcontext() makes a sigprocmask system call per switch
// (~1 us); the emulation switches at most memory operations, so on x86-64 we
// switch with a few instructions: save the callee-saved registers, MXCSR and
// the x87 control word on the old stack, swap stack pointers, restore.
#if KVMBED_HOSTIPI_ASM_SWITCH
extern "C" {
// Saves the current context's stack pointer in *save_sp and resumes the
// context whose stack pointer is load_sp.
void kvmbed_hostipi_switch(void** save_sp, void* load_sp);
// First instruction a new coroutine runs: calls r13(r12).
void kvmbed_hostipi_start();
}
asm(R"(
  .text
  .p2align 4
  .globl kvmbed_hostipi_switch
  .type kvmbed_hostipi_switch,@function
kvmbed_hostipi_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size kvmbed_hostipi_switch, .-kvmbed_hostipi_switch

  .p2align 4
  .globl kvmbed_hostipi_start
  .type kvmbed_hostipi_start,@function
kvmbed_hostipi_start:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size kvmbed_hostipi_start, .-kvmbed_hostipi_start
)");
#endif

namespace kvmbed {
namespace hostipi {
namespace internal {
namespace {

// splitmix64 seeds xoshiro256**; both fully specified, so runs replay on
// any compiler and standard library.
class Prng {
 public:
  explicit Prng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& s : s_) {
      x += 0x9e3779b97f4a7c15ULL;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) (Lemire's multiply-shift; n > 0).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>(
        (static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // True with probability threshold / 2^64 (see Threshold()).
  bool Chance(uint64_t threshold) { return Next() < threshold; }
  static uint64_t Threshold(double p) {
    if (p <= 0) return 0;
    if (p >= 1) return ~0ULL;
    return static_cast<uint64_t>(p * 18446744073709551616.0);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// A coroutine stack with a PROT_NONE guard page below it.
class Stack {
 public:
  static absl::StatusOr<std::unique_ptr<Stack>> Create(size_t bytes) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    bytes = (bytes + page - 1) / page * page;
    void* p = mmap(nullptr, bytes + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("mmap of a ", bytes,
                              "-byte coroutine stack (RunOptions."
                              "coroutine_stack_bytes)"));
    }
    if (mprotect(p, page, PROT_NONE) != 0) {
      int err = errno;
      munmap(p, bytes + page);
      return absl::ErrnoToStatus(err, "mprotect of a coroutine guard page");
    }
    return std::unique_ptr<Stack>(
        new Stack(static_cast<char*>(p), bytes + page, page));
  }
  ~Stack() { munmap(base_, size_); }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  char* low() const { return base_ + guard_; }
  char* high() const { return base_ + size_; }
  size_t usable() const { return size_ - guard_; }

 private:
  Stack(char* base, size_t size, size_t guard)
      : base_(base), size_(size), guard_(guard) {}
  char* base_;
  size_t size_;
  size_t guard_;
};

constexpr int kHistory = 4;         // visible values kept per word
constexpr size_t kBufferCap = 32;   // store-buffer entries per CPU

struct WordState {
  SharedWord* word = nullptr;
  uint64_t version = 0;       // visible writes so far (0 = initial value)
  int last_writer = -1;       // CPU of the current value; -1 = initial
  uint64_t last_place = 0;    // placement number of the current value
  bool last_full = true;      // the current value came from a whole-word write
  bool last_rmw = false;      // the current value came from an atomic RMW
  uint64_t hist_value[kHistory] = {};
  uint64_t hist_place[kHistory] = {};  // placement number of each version
  // Cumulativity stamp of each version: every write placed at or before it
  // has reached any CPU that read this version (see "Propagation" above).
  uint64_t hist_stamp[kHistory] = {};
  std::vector<uint64_t> min_version;   // per CPU: coherence floor
  // Per CPU: the largest token (stamp, or what it depended on) of its
  // reads of this word that returned version `ver` (the newest it read),
  // and of those that returned older versions (`below`). A later read of
  // the word that returns a coherence-later value than an earlier read was
  // satisfied after that one, so it carries that read's token too; one that
  // returns the same write may have been satisfied first (POWER restarts a
  // later read only when it read a different write), so it does not.
  struct Reads {
    uint64_t stamp = 0;
    uint64_t ver = 0;
    uint64_t below = 0;
  };
  std::vector<Reads> reads;  // per CPU (one struct: one cache line per read)
  std::vector<int> buffered;           // per CPU: entries buffered to it
};

struct Entry {
  WordState* ws;
  uint64_t value;
  uint64_t mask;  // bits this store writes: ~0 for Store, 0xff<<8i for bytes
  uint64_t epoch;
  uint64_t place_at_store;  // placement counter when the store executed
  uint64_t stamp;           // cumulativity stamp when the store executed
  bool after_barrier;       // a barrier of its CPU precedes it
  uint64_t dep;             // StoreAfter's token (forwarded loads take it)
  bool slow;                // slow_store_probability: drains after the others
};

class EmulatedSystem;

// One modelled CPU. Threading: used only from its own coroutine (all
// coroutines share the Run() caller's thread).
class EmuCpu final : public CpuMemory {
 public:
  EmuCpu(EmulatedSystem* sys, int cpu) : sys_(sys), cpu_(cpu) {}
  int cpu() const override { return cpu_; }
  uint64_t Load(SharedWord& w) override;
  uint64_t LoadToken(SharedWord& w, DepToken* token) override;
  uint64_t LoadAfter(SharedWord& w, DepToken dep, DepToken* token) override;
  void Store(SharedWord& w, uint64_t v) override;
  void StoreAfter(SharedWord& w, uint64_t v, DepToken dep) override;
  void StoreByte(SharedWord& w, int byte, uint8_t v) override;
  uint64_t Exchange(SharedWord& w, uint64_t v, bool fully_ordered) override;
  uint64_t FetchOr(SharedWord& w, uint64_t bits, bool fully_ordered) override;
  void FullBarrier() override;
  void LightBarrier() override;
  void Signal(SharedWord& w, uint64_t v) override;
  void Relax() override;
  bool StopRequested() const override;
  std::vector<std::string> BufferedStores() const override;
  int64_t NowNs() const override;
  uint64_t Pick(uint64_t n) override;

 private:
  friend class EmulatedSystem;
  EmulatedSystem* const sys_;
  const int cpu_;
  // Coroutine state.
  void* sp_ = nullptr;
#if !KVMBED_HOSTIPI_ASM_SWITCH
  ucontext_t uctx_;
#endif
  std::unique_ptr<Stack> stack_;
  const CpuBody* body_ = nullptr;
  bool live_ = false;
  // Memory state.
  std::vector<Entry> buffer_;
  uint64_t epoch_ = 0;
  uint64_t load_floor_ = 0;  // loads read nothing replaced at or before it
  uint64_t last_place_ = 0;  // placement number of this CPU's last write
  uint64_t acq_ = 0;         // the largest stamp of a write this CPU read
  uint64_t cum_ = 0;         // placement number at this CPU's last barrier
  bool barrier_seen_ = false;
  uint64_t paused_until_ = 0;  // pause_probability: not picked before this tick
};

// Threading: Run() from one thread at a time; RequestStop() from any thread.
class EmulatedSystem final : public MemorySystem {
 public:
  explicit EmulatedSystem(const RunOptions& options)
      : options_(options),
        prng_(options.seed),
        tracing_(static_cast<bool>(options.trace)) {
    SetKnobs(options);
  }

  absl::Status Run(const std::vector<CpuBody>& bodies,
                   absl::Duration deadline) override;
  void RequestStop() override { stop_.store(true, std::memory_order_relaxed); }
  RunStats stats() const override { return stats_; }

  absl::Status Retune(const RunOptions& options) override {
    RunOptions o = options_;
    o.drain_probability = options.drain_probability;
    o.stale_load_probability = options.stale_load_probability;
    o.coherence_drop_probability = options.coherence_drop_probability;
    o.slow_store_probability = options.slow_store_probability;
    o.cpu_weight = options.cpu_weight;
    o.drain_weight = options.drain_weight;
    o.pause_probability = options.pause_probability;
    o.pause_ticks = options.pause_ticks;
    absl::Status valid = ValidateRunOptions(o);
    if (!valid.ok()) return valid;
    SetKnobs(o);
    return absl::OkStatus();
  }

 private:
  friend class EmuCpu;

  void SetKnobs(const RunOptions& o) {
    drain_threshold_ = Prng::Threshold(o.drain_probability);
    stale_threshold_ = Prng::Threshold(o.stale_load_probability);
    drop_threshold_ = Prng::Threshold(o.coherence_drop_probability);
    slow_threshold_ = Prng::Threshold(o.slow_store_probability);
    cpu_weight_ = o.cpu_weight;
    drain_weight_ = o.drain_weight;
    pause_threshold_ = Prng::Threshold(o.pause_probability);
    pause_ticks_ = o.pause_ticks;
  }

  // Weight of CPU c in `weights` (non-empty).
  static uint64_t WeightOf(const std::vector<uint32_t>& weights, const EmuCpu* c) {
    return weights[static_cast<size_t>(c->cpu_) % weights.size()];
  }

  // One of `cands` (non-empty), with probability proportional to its weight.
  __attribute__((noinline)) EmuCpu* PickWeighted(const std::vector<uint32_t>& weights,
                                                 const std::vector<EmuCpu*>& cands) {
    uint64_t total = 0;
    for (const EmuCpu* c : cands) total += WeightOf(weights, c);
    uint64_t k = prng_.Below(total);
    for (EmuCpu* c : cands) {
      const uint64_t w = WeightOf(weights, c);
      if (k < w) return c;
      k -= w;
    }
    return cands.back();
  }

  // --- scheduling ---
  void Schedule(EmuCpu* cur) {
    ++now_;
    if ((now_ & 1023) == 0 && std::chrono::steady_clock::now() >= deadline_) {
      if (!stop_.load(std::memory_order_relaxed)) deadline_expired_ = true;
      stop_.store(true, std::memory_order_relaxed);
    }
    if (nonempty_buffers_ > 0 && prng_.Chance(drain_threshold_)) {
      DrainSomething();
    }
    if (pause_threshold_ != 0) {
      SchedulePaused(cur);
      return;
    }
    if (live_.size() > 1) {
      EmuCpu* next = cpu_weight_.empty() ? live_[prng_.Below(live_.size())]
                                         : PickWeighted(cpu_weight_, live_);
      if (next != cur) SwitchTo(cur, next);
    }
  }

  // Schedule()'s pick with pauses (pause_probability > 0). Out of line:
  // Schedule() runs before every operation and must stay small.
  __attribute__((noinline)) void SchedulePaused(EmuCpu* cur) {
    if (cur != nullptr && prng_.Chance(pause_threshold_)) {
      cur->paused_until_ = now_ + 1 + prng_.Below(2 * static_cast<uint64_t>(pause_ticks_));
    }
    for (;;) {
      awake_.clear();
      for (EmuCpu* c : live_) {
        if (c->paused_until_ <= now_) awake_.push_back(c);
      }
      if (!awake_.empty()) break;
      // Everyone pauses: time passes, stores drain, nobody runs.
      ++now_;
      if (nonempty_buffers_ > 0 && prng_.Chance(drain_threshold_)) DrainSomething();
    }
    EmuCpu* next = awake_.size() == 1 ? awake_[0]
                   : cpu_weight_.empty() ? awake_[prng_.Below(awake_.size())]
                                         : PickWeighted(cpu_weight_, awake_);
    if (next != cur) SwitchTo(cur, next);
  }

  void SwitchTo(EmuCpu* from, EmuCpu* to) {
#if KVMBED_HOSTIPI_ASM_SWITCH
    kvmbed_hostipi_switch(from ? &from->sp_ : &main_sp_, to ? to->sp_ : main_sp_);
#else
    swapcontext(from ? &from->uctx_ : &main_uctx_, to ? &to->uctx_ : &main_uctx_);
#endif
  }

  static void CoroutineMain(void* arg);
#if !KVMBED_HOSTIPI_ASM_SWITCH
  static void UcontextMain(unsigned lo, unsigned hi) {
    CoroutineMain(reinterpret_cast<void*>(
        (static_cast<uintptr_t>(hi) << 32) | static_cast<uintptr_t>(lo)));
  }
#endif
  absl::Status PrepareCoroutine(EmuCpu* c);

  // --- memory ---
  WordState* State(SharedWord& w) {
    auto it = words_.find(&w);
    if (it != words_.end()) return it->second;
    word_storage_.emplace_back();
    WordState* ws = &word_storage_.back();
    ws->word = &w;
    uint64_t v = w.value.load(std::memory_order_relaxed);
    for (int i = 0; i < kHistory; ++i) ws->hist_value[i] = v;
    ws->min_version.assign(all_.size(), 0);
    ws->reads.assign(all_.size(), WordState::Reads{});
    ws->buffered.assign(all_.size(), 0);
    words_.emplace(&w, ws);
    return ws;
  }

  void Trace(int cpu, MemoryOp op, const SharedWord* w, uint64_t value,
             uint64_t old = 0) {
    if (!tracing_) return;
    MemoryTraceEvent e;
    e.time = static_cast<int64_t>(now_);
    e.cpu = cpu;
    e.op = op;
    e.word = w;
    e.value = value;
    e.old = old;
    options_.trace(e);
  }

  // Makes the bits `mask` of v visible in ws, written by CPU c.
  void Place(EmuCpu* c, WordState* ws, uint64_t v, uint64_t mask = ~0ULL,
             bool rmw = false, uint64_t stamp = ~0ULL) {
    if (window_open_ && c != window_cpu_ && InWindow(ws)) CloseWindow();
    if (mask != ~0ULL) v = (Current(ws) & ~mask) | (v & mask);
    ws->last_full = mask == ~0ULL;
    ws->last_rmw = rmw;
    ++ws->version;
    ++place_counter_;
    int slot = static_cast<int>(ws->version % kHistory);
    ws->hist_value[slot] = v;
    ws->hist_place[slot] = place_counter_;
    // ~0: fully cumulative (everything placed so far, this write included).
    ws->hist_stamp[slot] = stamp == ~0ULL ? place_counter_ : stamp;
    ws->last_writer = c->cpu_;
    ws->last_place = place_counter_;
    ws->word->value.store(v, std::memory_order_relaxed);
    ws->min_version[c->cpu_] = ws->version;
    c->last_place_ = place_counter_;
  }

  uint64_t Current(const WordState* ws) const {
    return ws->hist_value[ws->version % kHistory];
  }

  void RemoveEntry(EmuCpu* c, size_t i) {
    --c->buffer_[i].ws->buffered[c->cpu_];
    c->buffer_.erase(c->buffer_.begin() + static_cast<long>(i));
    if (c->buffer_.empty()) --nonempty_buffers_;
    if (window_open_ && c == window_cpu_ &&
        (c->buffer_.empty() || c->buffer_.front().epoch >= window_epoch_)) {
      window_open_ = false;
      window_closed_at_ = place_counter_;
    }
  }

  // Makes entry i of c visible (the caller checked it may drain).
  void DrainEntry(EmuCpu* c, size_t i) {
    Entry e = c->buffer_[i];
    // A store after a barrier carries the barrier's group A (approximated
    // by everything placed before the barrier) and its CPU's own earlier
    // stores (all placed by now: epochs drain in order); one with no
    // barrier before it only what its CPU had read when it executed
    // (B-cumulativity through a dependency, and through po for loads
    // executed before it).
    uint64_t stamp = e.stamp;
    if (e.after_barrier) stamp = std::max(stamp, c->last_place_);
    Place(c, e.ws, e.value, e.mask, /*rmw=*/false, stamp);
    RemoveEntry(c, i);
    Trace(c->cpu_, MemoryOp::kDrain, e.ws->word, Current(e.ws));
  }

  bool MayDrain(const EmuCpu* c, size_t i) const {
    const Entry& e = c->buffer_[i];
    if (e.epoch != c->buffer_.front().epoch) return false;
    for (size_t j = 0; j < i; ++j) {
      if (c->buffer_[j].ws == e.ws) return false;
    }
    return true;
  }

  // Rules 1-4 of a coherence drop (see the top of this file).
  bool MayDrop(const EmuCpu* c, size_t i) {
    if (window_open_) return false;
    const Entry& e = c->buffer_[i];
    const WordState* ws = e.ws;
    if (ws->last_writer < 0 || ws->last_writer == c->cpu_) return false;
    // Bytes are separate locations: only a whole-word store can be ordered
    // before a whole-word current value.
    if (e.mask != ~0ULL || !ws->last_full) return false;
    // An RMW read the value just before its write: nothing may be ordered
    // between the two (that would silently lose E, e.g. a message bit that
    // a demux xchg() then never saw).
    if (ws->last_rmw) return false;
    if (ws->last_place <= e.place_at_store) return false;
    // An earlier drop's P made visible at or after the current value may
    // be reachable from it, and leads back in time to that drop (rule 4).
    if (window_closed_at_ >= ws->last_place) return false;
    if (c->last_place_ > ws->last_place) return false;
    for (size_t j = 0; j < i; ++j) {
      const Entry& p = c->buffer_[j];
      if (p.ws == ws) return false;
      if (p.epoch < e.epoch && p.ws->last_place > ws->last_place) return false;
    }
    return true;
  }

  void DropEntry(EmuCpu* c, size_t i) {
    Entry e = c->buffer_[i];
    // c must from now on read the current value or newer (CoWR).
    e.ws->min_version[c->cpu_] = e.ws->version;
    // E takes effect just before the current value: for rule 3 that is a
    // store of c at that time (else a later drop of c could be ordered
    // before an earlier one against lwsync: 2+2W through two drops).
    c->last_place_ = std::max(c->last_place_, e.ws->last_place);
    bool opens = false;
    window_words_.clear();
    for (size_t j = 0; j < i; ++j) {
      if (c->buffer_[j].epoch < e.epoch) {
        opens = true;
        window_words_.push_back(c->buffer_[j].ws);
      }
    }
    if (opens) {
      window_open_ = true;
      window_cpu_ = c;
      window_epoch_ = e.epoch;
    }
    RemoveEntry(c, i);
    Trace(c->cpu_, MemoryOp::kCoherenceDrop, e.ws->word, e.value,
          Current(e.ws));
  }

  bool InWindow(const WordState* ws) const {
    for (const WordState* w : window_words_) {
      if (w == ws) return true;
    }
    return false;
  }

  // Drains the open drop's P (the window CPU's entries of earlier epochs).
  void CloseWindow() {
    EmuCpu* b = window_cpu_;
    while (window_open_ && !b->buffer_.empty() &&
           b->buffer_.front().epoch < window_epoch_) {
      DrainEntry(b, 0);  // the oldest entry may always drain
    }
    if (window_open_) {
      window_open_ = false;
      window_closed_at_ = place_counter_;
    }
  }

  void DrainSomething() {
    // Pick a CPU with buffered stores.
    EmuCpu* c = nullptr;
    if (drain_weight_.empty()) {
      uint64_t k = prng_.Below(static_cast<uint64_t>(nonempty_buffers_));
      for (EmuCpu* x : all_) {
        if (!x->buffer_.empty() && k-- == 0) {
          c = x;
          break;
        }
      }
    } else {
      drain_cands_.clear();
      for (EmuCpu* x : all_) {
        if (!x->buffer_.empty()) drain_cands_.push_back(x);
      }
      c = PickWeighted(drain_weight_, drain_cands_);
    }
    DrainOne(c);
  }

  void DrainOne(EmuCpu* c) {
    const size_t n = c->buffer_.size();
    if (drop_threshold_ != 0 && prng_.Chance(drop_threshold_)) {
      size_t i = prng_.Below(n);
      if (MayDrop(c, i)) {
        DropEntry(c, i);
        return;
      }
    }
    size_t eligible = 0, fast = 0;
    for (size_t i = 0; i < n; ++i) {
      if (MayDrain(c, i)) {
        ++eligible;
        fast += !c->buffer_[i].slow;
      }
    }
    // Slow stores (slow_store_probability) go after the other drainable
    // ones, and alone only one attempt in 8.
    const bool skip_slow = fast > 0;
    if (fast == 0 && prng_.Below(8) != 0) return;
    uint64_t k = prng_.Below(skip_slow ? fast : eligible);  // >= 1: the oldest entry
    for (size_t i = 0; i < n; ++i) {
      if (MayDrain(c, i) && !(skip_slow && c->buffer_[i].slow) && k-- == 0) {
        DrainEntry(c, i);
        return;
      }
    }
  }

  void DrainAll(EmuCpu* c) {
    while (!c->buffer_.empty()) DrainEntry(c, 0);
  }

  // What must become visible before c's relaxed RMW on ws: entries of
  // earlier epochs (lwsync) and c's own entries to ws (coherence).
  void DrainBeforeRmw(EmuCpu* c, WordState* ws) {
    size_t i = 0;
    while (i < c->buffer_.size()) {
      const Entry& e = c->buffer_[i];
      if (e.epoch < c->epoch_ || e.ws == ws) {
        DrainEntry(c, i);
      } else {
        ++i;
      }
    }
  }

  template <typename F>
  uint64_t Rmw(EmuCpu* c, SharedWord& w, bool fully_ordered, MemoryOp op,
               uint64_t arg, F f) {
    Schedule(c);
    WordState* ws = State(w);
    if (fully_ordered) {
      DrainAll(c);
    } else {
      DrainBeforeRmw(c, ws);
    }
    // Place() may first drain an open drop's P into ws: do that before the
    // read, or the RMW would read a value that is no longer current.
    if (window_open_ && c != window_cpu_ && InWindow(ws)) CloseWindow();
    uint64_t old = Current(ws);
    c->acq_ = std::max(c->acq_, ws->hist_stamp[ws->version % kHistory]);
    Place(c, ws, f(old), ~0ULL, /*rmw=*/true);
    if (fully_ordered) {
      c->load_floor_ = place_counter_;
      c->cum_ = place_counter_;
      c->barrier_seen_ = true;
    }
    Trace(c->cpu_, op, &w, arg, old);
    return old;
  }

  // The token a read of version ver of ws by c carries from c's earlier
  // reads of ws: those that returned an older version (see Reads).
  static uint64_t ReadCarry(const EmuCpu* c, const WordState* ws, uint64_t ver) {
    const WordState::Reads& r = ws->reads[c->cpu_];
    return ver == r.ver ? r.below : std::max(r.below, r.stamp);
  }
  static void NoteRead(const EmuCpu* c, WordState* ws, uint64_t ver, uint64_t token) {
    WordState::Reads& r = ws->reads[c->cpu_];
    if (ver != r.ver) {
      r.below = std::max(r.below, r.stamp);
      r.ver = ver;
      r.stamp = token;
    } else {
      r.stamp = std::max(r.stamp, token);
    }
  }

  // dep_floor: the load must not be satisfied before that placement number
  // (an address dependency); token: the earliest placement number at which
  // it can have been satisfied (for loads that depend on it).
  uint64_t DoLoad(EmuCpu* c, SharedWord& w, uint64_t dep_floor = 0, uint64_t* token = nullptr) {
    Schedule(c);
    WordState* ws = State(w);
    uint64_t v;
    const uint64_t floor = std::max(c->load_floor_, dep_floor);
    if (ws->buffered[c->cpu_] > 0) {
      // Own buffered stores overlaid, oldest first, on the current value
      // (bytes not covered by them are read from memory).
      v = Current(ws);
      // Forwarded from this CPU's own store: satisfied as soon as the
      // store's data and address were known (its StoreAfter token), not
      // when anything became visible. A whole-word store covers the word;
      // bytes also read memory, so they keep the "now" token.
      uint64_t fwd = floor;
      bool whole = false;
      for (const Entry& e : c->buffer_) {
        if (e.ws == ws) {
          v = (v & ~e.mask) | (e.value & e.mask);
          if (e.mask == ~0ULL) {
            whole = true;
            fwd = std::max(floor, e.dep);
          }
        }
      }
      ws->min_version[c->cpu_] = ws->version;
      if (token) *token = whole ? fwd : place_counter_;
    } else if (stale_threshold_ != 0 && ws->version > 0 &&
               prng_.Chance(stale_threshold_)) {
      // Candidates: versions still held, not below this CPU's coherence
      // floor, and current at some moment after its last barrier and after
      // what it depends on (i.e. replaced only after the floor).
      uint64_t lowest = ws->version >= kHistory - 1 ? ws->version - (kHistory - 1)
                                                    : 0;
      lowest = std::max(lowest, ws->min_version[c->cpu_]);
      uint64_t first = ws->version;
      for (uint64_t ver = lowest; ver < ws->version; ++ver) {
        if (ws->hist_place[(ver + 1) % kHistory] > floor) {
          first = ver;
          break;
        }
      }
      uint64_t ver = first + prng_.Below(ws->version - first + 1);
      v = ws->hist_value[ver % kHistory];
      ws->min_version[c->cpu_] = ver;
      const uint64_t st = std::max(ws->hist_stamp[ver % kHistory], ReadCarry(c, ws, ver));
      NoteRead(c, ws, ver, std::max(floor, st));
      c->acq_ = std::max(c->acq_, st);
      if (token) *token = std::max(floor, st);
    } else {
      v = Current(ws);
      ws->min_version[c->cpu_] = ws->version;
      const uint64_t st =
          std::max(ws->hist_stamp[ws->version % kHistory], ReadCarry(c, ws, ws->version));
      NoteRead(c, ws, ws->version, std::max(floor, st));
      c->acq_ = std::max(c->acq_, st);
      if (token) *token = std::max(floor, st);
    }
    Trace(c->cpu_, MemoryOp::kLoad, &w, v);
    return v;
  }

  void DoStore(EmuCpu* c, SharedWord& w, uint64_t v, uint64_t mask,
               MemoryOp op, uint64_t trace_old, uint64_t dep = ~0ULL) {
    Schedule(c);
    WordState* ws = State(w);
    if (c->buffer_.size() >= kBufferCap) DrainEntry(c, 0);
    if (c->buffer_.empty()) ++nonempty_buffers_;
    c->buffer_.push_back(Entry{ws, v, mask, c->epoch_, place_counter_,
                               std::max(c->cum_, c->acq_), c->barrier_seen_,
                               dep == ~0ULL ? place_counter_ : dep,
                               slow_threshold_ != 0 && prng_.Chance(slow_threshold_)});
    ++ws->buffered[c->cpu_];
    Trace(c->cpu_, op, &w, v, trace_old);
  }

  const RunOptions options_;
  Prng prng_;
  uint64_t drain_threshold_ = 0;
  uint64_t stale_threshold_ = 0;
  uint64_t drop_threshold_ = 0;
  uint64_t slow_threshold_ = 0;
  std::vector<uint32_t> cpu_weight_;    // empty: uniform
  std::vector<uint32_t> drain_weight_;  // empty: uniform
  std::vector<EmuCpu*> drain_cands_;    // scratch of DrainSomething()
  uint64_t pause_threshold_ = 0;
  uint32_t pause_ticks_ = 16;
  std::vector<EmuCpu*> awake_;          // scratch of SchedulePaused()
  const bool tracing_;

  std::atomic<bool> stop_{false};
  bool deadline_expired_ = false;
  std::chrono::steady_clock::time_point deadline_;
  uint64_t now_ = 0;
  uint64_t place_counter_ = 0;
  int nonempty_buffers_ = 0;

  std::vector<std::unique_ptr<EmuCpu>> cpus_;
  std::vector<EmuCpu*> all_;   // cpus_ in CPU order
  std::vector<EmuCpu*> live_;  // CPUs whose body has not returned
  void* main_sp_ = nullptr;
#if !KVMBED_HOSTIPI_ASM_SWITCH
  ucontext_t main_uctx_;
#endif

  absl::flat_hash_map<const SharedWord*, WordState*> words_;  // lookup only
  std::deque<WordState> word_storage_;

  bool window_open_ = false;
  EmuCpu* window_cpu_ = nullptr;
  uint64_t window_epoch_ = 0;
  uint64_t window_closed_at_ = 0;  // placement that closed the last drop
  std::vector<WordState*> window_words_;

  RunStats stats_;
};

void EmulatedSystem::CoroutineMain(void* arg) {
  EmuCpu* c = static_cast<EmuCpu*>(arg);
  EmulatedSystem* sys = c->sys_;
  (*c->body_)(*c);
  c->live_ = false;
  sys->live_.erase(std::find(sys->live_.begin(), sys->live_.end(), c));
  EmuCpu* next = sys->live_.empty()
                     ? nullptr
                     : sys->live_[sys->prng_.Below(sys->live_.size())];
  sys->SwitchTo(c, next);
  __builtin_trap();  // a finished coroutine is never resumed
}

absl::Status EmulatedSystem::PrepareCoroutine(EmuCpu* c) {
  if (c->stack_ == nullptr) {
    auto stack = Stack::Create(options_.coroutine_stack_bytes);
    if (!stack.ok()) return stack.status();
    c->stack_ = std::move(*stack);
  }
#if KVMBED_HOSTIPI_ASM_SWITCH
  uintptr_t top = reinterpret_cast<uintptr_t>(c->stack_->high()) & ~uintptr_t{15};
  uint64_t* sp = reinterpret_cast<uint64_t*>(top);
  *--sp = reinterpret_cast<uint64_t>(&kvmbed_hostipi_start);  // ret target
  *--sp = 0;                                                  // rbp
  *--sp = 0;                                                  // rbx
  *--sp = reinterpret_cast<uint64_t>(c);                      // r12: arg
  *--sp = reinterpret_cast<uint64_t>(&CoroutineMain);         // r13: fn
  *--sp = 0;                                                  // r14
  *--sp = 0;                                                  // r15
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  uint64_t fp = mxcsr | (static_cast<uint64_t>(fpucw) << 32);
  *--sp = fp;
  c->sp_ = sp;
#else
  if (getcontext(&c->uctx_) != 0) {
    return absl::ErrnoToStatus(errno, "getcontext for a coroutine");
  }
  c->uctx_.uc_stack.ss_sp = c->stack_->low();
  c->uctx_.uc_stack.ss_size = c->stack_->usable();
  c->uctx_.uc_link = nullptr;
  uintptr_t p = reinterpret_cast<uintptr_t>(c);
  makecontext(&c->uctx_, reinterpret_cast<void (*)()>(&UcontextMain), 2,
              static_cast<unsigned>(p & 0xffffffffu),
              static_cast<unsigned>(p >> 32));
#endif
  return absl::OkStatus();
}

absl::Status EmulatedSystem::Run(const std::vector<CpuBody>& bodies,
                                 absl::Duration deadline) {
  absl::Status valid = ValidateRunOptions(options_);
  if (!valid.ok()) return valid;
  const absl::Time wall_start = absl::Now();
  stop_.store(false);
  deadline_expired_ = false;
  if (deadline > absl::Hours(24 * 365)) {
    deadline_ = std::chrono::steady_clock::time_point::max();
  } else {
    deadline_ = std::chrono::steady_clock::now() +
                absl::ToChronoNanoseconds(
                    std::max(deadline, absl::ZeroDuration()));
  }
  now_ = 0;
  place_counter_ = 0;
  nonempty_buffers_ = 0;
  window_open_ = false;
  window_closed_at_ = 0;
  words_.clear();
  word_storage_.clear();

  const size_t n = bodies.size();
  while (cpus_.size() < n) {
    cpus_.push_back(std::make_unique<EmuCpu>(this, static_cast<int>(cpus_.size())));
  }
  // A Run with fewer bodies than an earlier one keeps the spare CPUs idle.
  all_.clear();
  live_.clear();
  for (size_t i = 0; i < n; ++i) {
    EmuCpu* c = cpus_[i].get();
    c->body_ = &bodies[i];
    c->buffer_.clear();
    c->epoch_ = 0;
    c->load_floor_ = 0;
    c->last_place_ = 0;
    c->acq_ = 0;
    c->cum_ = 0;
    c->barrier_seen_ = false;
    c->paused_until_ = 0;
    c->live_ = true;
    absl::Status s = PrepareCoroutine(c);
    if (!s.ok()) return s;
    all_.push_back(c);
    live_.push_back(c);
  }
  if (n > 0) {
    EmuCpu* first = live_[prng_.Below(live_.size())];
    SwitchTo(nullptr, first);  // returns when every body has returned
  }
  // Drain what is left, still by the rules (order and drops from the PRNG).
  while (nonempty_buffers_ > 0) DrainSomething();

  stats_.ops = now_;
  stats_.deadline_expired = deadline_expired_;
  stats_.wall_time = absl::Now() - wall_start;
  return absl::OkStatus();
}

// --- EmuCpu ---------------------------------------------------------------

uint64_t EmuCpu::Load(SharedWord& w) { return sys_->DoLoad(this, w); }
uint64_t EmuCpu::LoadToken(SharedWord& w, DepToken* token) {
  return sys_->DoLoad(this, w, 0, token);
}
uint64_t EmuCpu::LoadAfter(SharedWord& w, DepToken dep, DepToken* token) {
  return sys_->DoLoad(this, w, dep, token);
}

void EmuCpu::Store(SharedWord& w, uint64_t v) {
  sys_->DoStore(this, w, v, ~0ULL, MemoryOp::kStore, 0);
}

void EmuCpu::StoreAfter(SharedWord& w, uint64_t v, DepToken dep) {
  sys_->DoStore(this, w, v, ~0ULL, MemoryOp::kStore, 0, dep);
}

void EmuCpu::StoreByte(SharedWord& w, int byte, uint8_t v) {
  const int shift = 8 * (byte & 7);
  sys_->DoStore(this, w, static_cast<uint64_t>(v) << shift, 0xffULL << shift,
                MemoryOp::kStoreByte, static_cast<uint64_t>(byte & 7));
}

uint64_t EmuCpu::Exchange(SharedWord& w, uint64_t v, bool fully_ordered) {
  return sys_->Rmw(this, w, fully_ordered, MemoryOp::kExchange, v,
                   [v](uint64_t) { return v; });
}

uint64_t EmuCpu::FetchOr(SharedWord& w, uint64_t bits, bool fully_ordered) {
  return sys_->Rmw(this, w, fully_ordered, MemoryOp::kFetchOr, bits,
                   [bits](uint64_t old) { return old | bits; });
}

void EmuCpu::FullBarrier() {
  sys_->Schedule(this);
  sys_->DrainAll(this);
  load_floor_ = sys_->place_counter_;
  cum_ = sys_->place_counter_;
  barrier_seen_ = true;
  sys_->Trace(cpu_, MemoryOp::kFullBarrier, nullptr, 0);
}

void EmuCpu::LightBarrier() {
  sys_->Schedule(this);
  ++epoch_;
  // Loads after an lwsync are satisfied after the loads before it, so they
  // see what those loads' writes carried (cumulativity), not everything
  // placed by now: memory is not multi-copy atomic.
  load_floor_ = std::max(load_floor_, acq_);
  cum_ = sys_->place_counter_;
  barrier_seen_ = true;
  sys_->Trace(cpu_, MemoryOp::kLightBarrier, nullptr, 0);
}

void EmuCpu::Signal(SharedWord& w, uint64_t v) {
  sys_->Schedule(this);
  WordState* ws = sys_->State(w);
  // This CPU's own stores to w go first (coherence); simplest legal way:
  // drain the oldest entries until none to w is left.
  while (ws->buffered[cpu_] > 0) sys_->DrainEntry(this, 0);
  sys_->Place(this, ws, v);
  sys_->Trace(cpu_, MemoryOp::kSignal, &w, v);
}

void EmuCpu::Relax() {
  sys_->Schedule(this);
  sys_->Trace(cpu_, MemoryOp::kRelax, nullptr, 0);
}

bool EmuCpu::StopRequested() const {
  return sys_->stop_.load(std::memory_order_relaxed);
}

std::vector<std::string> EmuCpu::BufferedStores() const {
  std::vector<std::string> out;
  for (const Entry& e : buffer_) {
    if (e.mask == ~0ULL) {
      out.push_back(absl::StrCat(e.ws->word->name, "=", e.value));
    } else {
      int byte = __builtin_ctzll(e.mask) / 8;
      out.push_back(absl::StrCat(e.ws->word->name, ".byte", byte, "=",
                                 (e.value >> (8 * byte)) & 0xff));
    }
  }
  return out;
}

int64_t EmuCpu::NowNs() const { return static_cast<int64_t>(sys_->now_); }

uint64_t EmuCpu::Pick(uint64_t n) { return n <= 1 ? 0 : sys_->prng_.Below(n); }

}  // namespace

std::unique_ptr<MemorySystem> CreateEmulatedPowerSystem(
    const RunOptions& options) {
  return std::make_unique<EmulatedSystem>(options);
}

}  // namespace internal
}  // namespace hostipi
}  // namespace kvmbed
