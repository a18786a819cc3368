// How modelled host CPUs see shared memory.
//
// hostipi runs the POWER host-IPI protocol (kvm_hstate.host_ipi, the muxed
// ipi_message word, csd locks) in one of two memory-ordering modes:
//
//  * kNative: every modelled CPU is a real OS thread; loads and stores are
//    relaxed atomics, barriers are real fences. The hardware decides which
//    reorderings happen (on x86-TSO: only store->load, via the store buffer).
//  * kEmulatedPower: every modelled CPU is a coroutine, all on one OS thread,
//    scheduled by a seeded PRNG at every memory operation, so a run replays
//    exactly from its seed. Each CPU has a software store buffer: a store not
//    ordered by a barrier may become visible later, and out of order with the
//    CPU's other buffered stores; loads may pass buffered stores (a CPU always
//    sees its own newest store). FullBarrier (sync) drains the buffer;
//    LightBarrier (lwsync) orders earlier stores before later ones and loads
//    before later loads. See memory_model.cc for exactly what is allowed.
//
// Protocol code is written once against CpuMemory and runs in both modes.
//
// Threading: a SharedWord may be touched by any CPU, but only through that
// CPU's own CpuMemory. A CpuMemory belongs to exactly one modelled CPU and is
// used only from the thread/coroutine running that CPU.
#ifndef KVMBED_HOSTIPI_MEMORY_MODEL_H_
#define KVMBED_HOSTIPI_MEMORY_MODEL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "hostipi/ordering_mode.h"

namespace kvmbed {
namespace hostipi {

// One word of modelled shared memory (host_ipi, ipi_message, a csd flag...).
// Cache-line aligned so native runs measure ordering, not false sharing.
//
// `value` always holds the value every CPU can see: in kEmulatedPower a
// store still in a store buffer is not in it yet, so reading `value`
// directly (from a body, a trace callback or after Run) shows memory as the
// other CPUs see it. Set it directly only while no Run() is active.
struct alignas(64) SharedWord {
  std::atomic<uint64_t> value{0};
  const char* name = "?";  // for traces and stall reports, e.g. "host_ipi[3]"
};

// The memory operations one modelled CPU may perform.
class CpuMemory {
 public:
  virtual ~CpuMemory() = default;

  // The modelled CPU number this memory belongs to.
  virtual int cpu() const = 0;

  // Plain load (READ_ONCE): no ordering beyond what the mode gives.
  virtual uint64_t Load(SharedWord& w) = 0;
  // Address dependencies. A load's DepToken names the earliest moment it
  // can have been satisfied; LoadAfter(w, dep, token) is a load whose
  // address depends on the loads whose tokens were combined (max) into
  // `dep`: POWER satisfies it no earlier than them, so it never returns a
  // value already overwritten by then (MP+lwsync+addr is forbidden). Plain
  // Load() carries no dependency. Natively (x86) and in ThreadStoreBuffers
  // loads are never reordered with each other, so the defaults (token 0, a
  // plain load) are exact there; kEmulatedPower overrides them.
  using DepToken = uint64_t;
  virtual uint64_t LoadToken(SharedWord& w, DepToken* token) {
    *token = 0;
    return Load(w);
  }
  virtual uint64_t LoadAfter(SharedWord& w, DepToken dep, DepToken* token) {
    (void)dep;
    return LoadToken(w, token);
  }
  // Plain store (WRITE_ONCE): may be buffered in kEmulatedPower.
  virtual void Store(SharedWord& w, uint64_t v) = 0;
  // A store whose data or address depends on the loads whose tokens were
  // combined into `dep`. It is ordered like Store(); what it changes is a
  // later load of this CPU that reads it before it is visible (forwarding):
  // that load's token is `dep`, not "now", so a chain through one's own
  // store (POWER's rfi) orders no more than POWER does. The default (native,
  // ThreadStoreBuffers) is a plain Store.
  virtual void StoreAfter(SharedWord& w, uint64_t v, DepToken dep) {
    (void)dep;
    Store(w, v);
  }
  // Plain store of one byte (bits 8*byte .. 8*byte+7 of the word), e.g.
  // powerpc's `message[msg] = 1` into the muxed ipi_message word: buffered
  // like Store, and concurrent byte stores to different bytes never lose
  // each other. Use this, not a relaxed FetchOr, for the message set: a
  // relaxed RMW takes effect at once in kEmulatedPower, so it could never
  // be reordered after a later store (the seed's scenario 1). byte: 0..7.
  virtual void StoreByte(SharedWord& w, int byte, uint8_t v) = 0;
  // Atomic exchange; fully_ordered = xchg() (a full barrier on each side),
  // otherwise xchg_relaxed()/xchg_local().
  virtual uint64_t Exchange(SharedWord& w, uint64_t v, bool fully_ordered) = 0;
  // Atomic OR; ordering as for Exchange.
  virtual uint64_t FetchOr(SharedWord& w, uint64_t bits, bool fully_ordered) = 0;
  // smp_mb() / sync.
  virtual void FullBarrier() = 0;
  // lwsync: load->load, load->store and store->store order; not store->load.
  virtual void LightBarrier() = 0;
  // A non-memory signal that takes effect at once and is not buffered (the
  // msgsnd doorbell instruction): sets w to v immediately for every CPU.
  virtual void Signal(SharedWord& w, uint64_t v) = 0;
  // cpu_relax() in a spin loop: a scheduling point, where buffered stores
  // may drain. Every spin loop in protocol code must call it.
  virtual void Relax() = 0;
  // True once the run was asked to stop; bodies must return soon after.
  virtual bool StopRequested() const = 0;
  // Describes the stores still sitting in this CPU's store buffer, e.g.
  // {"host_ipi[1]=0"}; always empty in kNative.
  virtual std::vector<std::string> BufferedStores() const = 0;
  // Monotonic time of this run in ns: wall time in kNative, a virtual clock
  // (one tick per scheduled operation) in kEmulatedPower.
  virtual int64_t NowNs() const = 0;
  // A choice in [0, n) (n >= 1) for code that models out-of-order issue
  // itself (power_litmus.cc's instruction bridge lets a store commit before
  // an earlier independent load is satisfied: load buffering, which code
  // run in program order through this interface cannot show). kEmulatedPower:
  // drawn from the run's seeded PRNG, so a run replays; the default
  // (native, ThreadStoreBuffers): 0, program order, the hardware reorders.
  virtual uint64_t Pick(uint64_t n) {
    (void)n;
    return 0;
  }
};

// One modelled CPU's code. It runs until it returns; a body must return
// soon after StopRequested() turns true. Bodies synchronise only through
// CpuMemory: in kEmulatedPower they all share one OS thread, so a body that
// blocks (mutex, condition variable, sleep) or spins without CpuMemory calls
// stops every CPU. Exceptions must not leave a body.
using CpuBody = std::function<void(CpuMemory& mem)>;

// One operation as recorded by a trace (kEmulatedPower only).
enum class MemoryOp {
  kLoad,          // value = the value the load returned
  kStore,         // the store entered the CPU's store buffer
  kStoreByte,     // a byte store entered the buffer; old = byte index
  kDrain,         // a buffered store became visible; value = the word now
  kCoherenceDrop, // a buffered store was ordered just before the current
                  // value of its word and never became visible to others
  kExchange,      // value = the new value; the old one is in `old`
  kFetchOr,       // value = the OR-ed bits; the old value is in `old`
  kFullBarrier,
  kLightBarrier,
  kSignal,
  kRelax,
};
const char* MemoryOpName(MemoryOp op);

struct MemoryTraceEvent {
  int64_t time = 0;  // virtual ns (= scheduled operations so far)
  int cpu = 0;       // the CPU whose operation or store this is
  MemoryOp op = MemoryOp::kRelax;
  const SharedWord* word = nullptr;  // null for barriers and Relax
  uint64_t value = 0;
  uint64_t old = 0;
};

struct RunOptions {
  OrderingMode mode = OrderingMode::kNative;
  uint64_t seed = 1;  // kEmulatedPower: scheduling and drain decisions
  // kNative: host CPUs to pin modelled CPU i's thread to (i % size); empty
  // = no pinning.
  std::vector<int> pin_cpus;
  // Probability (0..1) that a buffered store drains at a scheduling point
  // (kEmulatedPower only).
  double drain_probability = 0.25;
  // Probability (0..1) that a load not ordered by a barrier returns an older
  // value of its word that was still current at some time after this CPU's
  // last barrier (POWER satisfies loads out of order). kEmulatedPower only.
  double stale_load_probability = 0.1;
  // Probability (0..1) that a buffered store, when it drains and the rules
  // allow it (see memory_model.cc), is instead ordered coherence-before the
  // word's current value by another CPU, so it is never seen by others.
  // This is what makes R with lwsync on the writer observable.
  double coherence_drop_probability = 0.25;
  // Probability (0..1) that a store is slow to propagate: while its CPU
  // has other drainable stores those drain first, and when it alone may
  // drain, a drain attempt takes it only one time in 8. Legal drain orders
  // only (shapes whose outcome needs one store held while later ones of its
  // CPU become visible, e.g. herd's DETOUR family). kEmulatedPower only; 0
  // (the default) draws nothing, so runs replay as before.
  double slow_store_probability = 0.0;
  // kEmulatedPower: relative weights of the modelled CPUs (CPU i has
  // cpu_weight[i % size], each >= 1) when a scheduling point picks which CPU
  // runs next, and when a drain picks whose buffered store leaves next
  // (drain_weight). Empty (the default): uniform, drawn exactly as before,
  // so runs replay unchanged. Both only bias choices the rules already
  // allow: a slow CPU's reads are satisfied late, a CPU with a small drain
  // weight holds its stores while other CPUs' writes propagate.
  std::vector<uint32_t> cpu_weight;
  std::vector<uint32_t> drain_weight;
  // kEmulatedPower: probability (0..1) that at a scheduling point the CPU
  // that just ran pauses: it is not picked again for a number of
  // scheduling points drawn uniformly from [1, 2 * pause_ticks]; when every
  // live CPU is paused, time still passes (buffered stores drain) until one
  // resumes. A CPU that stops between two instructions while other CPUs'
  // writes propagate (the coherence detours). 0 (the default) draws
  // nothing: runs replay unchanged.
  double pause_probability = 0.0;
  uint32_t pause_ticks = 16;
  // Stack of each coroutine in kEmulatedPower.
  size_t coroutine_stack_bytes = 256 * 1024;
  // Optional: called for every operation, drain and drop, in order
  // (kEmulatedPower only; ignored in kNative). Runs on the coroutine of the
  // CPU concerned, so it must not call into CpuMemory.
  std::function<void(const MemoryTraceEvent&)> trace;
};

// Checks RunOptions; the error names the field and the fix.
absl::Status ValidateRunOptions(const RunOptions& options);

// What the last Run() did.
struct RunStats {
  uint64_t ops = 0;             // scheduled operations (kEmulatedPower only)
  bool deadline_expired = false;
  absl::Duration wall_time;
};

// A kNative CpuMemory for a thread the caller runs itself (e.g. a KVM vCPU
// thread that is a modelled host CPU): exactly what Run() gives its native
// bodies. StopRequested() reads `*stop` (which must outlive it); NowNs()
// counts from `start`.
std::unique_ptr<CpuMemory> NewNativeCpuMemory(int cpu, const std::atomic<bool>* stop,
                                              std::chrono::steady_clock::time_point start);

// Emulated-power store buffers for CPUs that are real threads the caller
// runs itself (the vCPU-thread host plane), where the coroutine scheduler of
// kEmulatedPower cannot be used. Each CpuMemory it makes keeps a software
// store buffer in front of hostipi's native memory:
//  * Store/StoreByte enter the buffer and stay there for a seeded random
//    hold in [0, max_hold]; the CPU's own loads of that word see them at once
//    (forwarding), every other CPU sees the word's old value until it drains.
//  * A store drains when its hold has passed (at the owner's next memory
//    operation, or by the drainer thread while the owner runs no modelled
//    code, e.g. while a vCPU thread is in its guest), but never before an
//    older store to the same word (coherence) nor before a store that
//    precedes it across a LightBarrier (lwsync: store->store order).
//    Stores with no lwsync between them may drain out of order (the seed's
//    scenario 1).
//  * FullBarrier and fully ordered RMWs drain the whole buffer first (sync);
//    a relaxed RMW first drains the stores up to the CPU's last store to its
//    word. Signal (msgsnd) is not buffered.
//  * Loads are not reordered with each other (a subset of POWER: only
//    store->load and store->store reordering are emulated), and x86's own
//    store buffer still applies underneath.
// So an unfenced clear of host_ipi can stay invisible for up to max_hold
// after the CPU read its messages: the window of the seed's scenario 2,
// widened from nanoseconds to what a soak on a small box can hit, while a
// kernel model with the barriers (3a83f677) drains it before the read and
// stays clean whatever the hold.
//
// Threading: Create() and destruction from one owner thread; destroy the
// CpuMemorys' words only after this object. Each CpuMemory is used by its
// own thread; BufferedStores() and the drainer may run on any thread.
struct ThreadStoreBufferOptions {
  // Longest time a store may stay buffered (> 0).
  absl::Duration max_hold = absl::Milliseconds(1);
  // Drainer period; zero = max_hold / 4, at least 50 us.
  absl::Duration drain_period = absl::ZeroDuration();
  // Seeds the holds (per CPU: seed, cpu).
  uint64_t seed = 1;
  // Stores a CPU may buffer; one more drains its oldest first.
  int capacity = 32;
};

class ThreadStoreBuffers {
 public:
  // Checks the options (errors name the field and the fix) and starts the
  // drainer thread.
  static absl::StatusOr<std::unique_ptr<ThreadStoreBuffers>> Create(
      const ThreadStoreBufferOptions& options);
  virtual ~ThreadStoreBuffers() = default;

  // A buffered CpuMemory for modelled CPU `cpu` on the caller's thread;
  // StopRequested() reads `*stop`, NowNs() counts from `start`. The memory
  // must not outlive this object.
  virtual std::unique_ptr<CpuMemory> NewCpu(int cpu, const std::atomic<bool>* stop,
                                            std::chrono::steady_clock::time_point start) = 0;
  // Makes every buffered store visible and stops the drainer (idempotent).
  virtual void Shutdown() = 0;
  // Stores that drained by hold expiry / barrier or RMW / the drainer, and
  // the longest time one was held (ns).
  struct Stats {
    int64_t buffered = 0;
    int64_t drained_by_hold = 0;
    int64_t drained_by_barrier = 0;
    int64_t drained_by_drainer = 0;
    int64_t max_held_ns = 0;
  };
  virtual Stats GetStats() const = 0;
};

// Runs a set of modelled CPUs to completion under one ordering mode.
//
// Threading: Run() blocks its caller until every body returned.
// RequestStop() may be called from any thread, including a body.
class MemorySystem {
 public:
  virtual ~MemorySystem() = default;

  static std::unique_ptr<MemorySystem> Create(const RunOptions& options);

  // Runs bodies[i] as modelled CPU i until all return, or until the
  // deadline (wall time) passes, after which StopRequested() is true.
  // Returns OK in both cases (see stats().deadline_expired); an error only
  // for bad options or a failed thread/pinning/stack set-up. Run() may be
  // called again; in kEmulatedPower the PRNG carries on from the previous
  // run, so a sequence of runs replays exactly from RunOptions::seed, and
  // every store buffer is drained before Run() returns.
  virtual absl::Status Run(const std::vector<CpuBody>& bodies,
                           absl::Duration deadline) = 0;

  // Asks every body to return (sets StopRequested()). A later Run()
  // starts with the request cleared.
  virtual void RequestStop() = 0;

  // Figures of the last completed Run().
  virtual RunStats stats() const = 0;

  // kEmulatedPower: takes the emulation knobs of `options` (the five
  // probabilities, cpu_weight, drain_weight, pause_ticks) for the next Run(); the PRNG
  // carries on, so a sequence of retuned runs still replays from the seed.
  // Other fields are ignored. kNative: an error (it has no knobs).
  virtual absl::Status Retune(const RunOptions& options) = 0;
};

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_MEMORY_MODEL_H_
