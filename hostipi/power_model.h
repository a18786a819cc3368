// An operational model of POWER's memory subsystem and an exhaustive
// explorer over it.
//
// The model follows the structure of Sarkar, Sewell, Alglave, Maranget and
// Williams, "Understanding POWER Multiprocessors" (PLDI 2011): per-thread
// instruction windows that satisfy loads and commit instructions out of
// order, in front of a storage subsystem that is not multi-copy atomic.
//
// Storage subsystem (per run):
//  * every write is a distinct event; it reaches each thread on its own
//    (`propagated` per thread) and each thread keeps the list of writes and
//    barriers propagated to it, in order;
//  * coherence is a partial order per location, grown when a write reaches a
//    thread (it goes after every write of that location already there); a
//    write that is coherence-before one a thread already has reaches that
//    thread invisibly (it was overwritten);
//  * a write may reach another thread only after every barrier that came
//    before it in its own thread's list has (cumulativity); a barrier may
//    reach a thread only after everything before it in its thread's list has
//    (A-cumulativity: writes the thread observed; B-cumulativity through
//    the writes that follow it);
//  * a sync is acknowledged once it has reached every thread; nothing after
//    it in program order is satisfied or committed before that;
//  * an atomic read-modify-write reads the newest write its thread sees and
//    puts its own write immediately after it in coherence; no write may later
//    be ordered between the two.
//
// Thread subsystem: instructions are fetched in order into a window of at
// most `window` in-flight instructions, speculatively past conditional
// branches whose condition is unknown (a branch whose prediction turns out
// wrong prunes that execution: the execution that predicted right is
// explored as well, so no behaviour is lost). Then:
//  * a load is satisfied once its address is known (it may use values of
//    loads not yet committed) and no earlier lwsync/isync is uncommitted and
//    no earlier sync unacknowledged, from the newest earlier uncommitted
//    store to its location (forwarding; only once that store's address is
//    known) or else from the newest write its thread has; loads to
//    different locations are satisfied in any order;
//    when a load is satisfied from a different write than a later load to the
//    same location already read, that later load and what depends on it are
//    restarted (coherence of reads), including loads forwarded from stores
//    whose address or data came from it;
//  * a store commits (is accepted by the storage subsystem and seen by its own
//    thread) once its address and data sources are committed, every earlier
//    branch is committed, every earlier access has a known address, every
//    earlier access to its location is committed and every earlier barrier is
//    committed (sync: acknowledged). So a store may pass earlier loads to
//    other locations (load buffering) and earlier stores;
//  * an address dependency orders later accesses, a data dependency the
//    store, a control dependency later stores, and control + isync later
//    loads (isync commits only once earlier branches are committed and
//    earlier accesses have their addresses);
//  * lwsync and sync commit once everything earlier committed.
//
// What is not modelled: mixed-size accesses, load-reserve/store-conditional
// as separate instructions (an RMW is one instruction that reads and writes
// at commit), explicit coherence commitment steps (coherence is only fixed
// where writes meet on a thread, which yields the same final states for the
// shapes here), eieio, and instruction fetch.
//
// The explorer enumerates every state reachable from the initial one
// (breadth first, visited states kept by a 128-bit hash of their canonical
// encoding), so it answers "unreachable" as a proof for the bounded program
// (bounded by the program itself, the window, and whatever the program's
// loops allow) and "reachable" with a shortest witness.
//
// Threading: plain value types; Explore() runs on the caller's thread.
#ifndef KVMBED_HOSTIPI_POWER_MODEL_H_
#define KVMBED_HOSTIPI_POWER_MODEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kvmbed {
namespace hostipi {
namespace power {

enum class InstrKind : uint8_t {
  kLoad,    // reg = [loc]; a spin load (spin=true) completes only on a value
            // meeting `cond` (a side-effect-free spin loop, with the loop's
            // control dependency on what follows)
  kStore,   // [loc] = value, or the value of register value_reg
  kRmw,     // reg = [loc]; [loc] = op(reg, value), atomically
  kLwsync,
  kSync,
  kIsync,
  kBranch,  // if cond(reg) goto target; cond kAlways = unconditional jump
  kChoose,  // reg = one of choices (explored: every one)
  kMsgsnd,  // doorbell to thread `value` (not a memory access)
  kAwaitDoorbell,  // waits for this thread's doorbell and takes it; context
                   // synchronising (nothing after it starts before)
  kGhost,   // ghost[value] = value2: bookkeeping for properties, no memory
};

enum class Cond : uint8_t { kAlways, kEq, kNe, kBitSet, kBitClear };
enum class RmwOp : uint8_t { kExchange, kOr };

struct Instr {
  InstrKind kind = InstrKind::kLoad;
  int loc = -1;
  int reg = -1;          // destination (load, rmw, choose) or tested (branch)
  int64_t value = 0;     // store/rmw operand, branch constant, msgsnd target,
                         // ghost slot
  int64_t value2 = 0;    // ghost value
  int value_reg = -1;    // store: data from this register
  std::vector<int> addr_deps;  // registers the address depends on
  std::vector<int> data_deps;  // registers the stored value depends on
  Cond cond = Cond::kAlways;   // branch, spin load
  int target = -1;             // branch target (instruction index)
  bool spin = false;           // load: spin until cond(value)
  RmwOp rmw = RmwOp::kExchange;
  std::vector<int64_t> choices;  // kChoose
  std::string text;  // how traces name it, e.g. "kvmppc_set_host_ipi(1, 1)"
};

struct Program {
  std::vector<std::string> locations;     // names, e.g. "x", "host_ipi[1]"
  std::vector<int64_t> initial;           // per location (default 0)
  std::vector<std::vector<Instr>> threads;
  int registers = 4;                      // per thread
  int ghosts = 1;                         // per thread
};

// True when cond holds for value v against constant c.
bool CondHolds(Cond cond, int64_t v, int64_t c);

// A state of the model (opaque outside power_model.cc).
struct State;

// What a finished execution ended with.
struct Final {
  std::vector<std::vector<int64_t>> regs;  // [thread][reg]
  std::vector<int64_t> memory;             // [location], coherence-final
  std::vector<std::vector<int64_t>> ghosts;
  bool operator<(const Final& o) const {
    return std::tie(regs, memory, ghosts) < std::tie(o.regs, o.memory, o.ghosts);
  }
};

// A view of a state for properties ("is this the lost IPI?").
class StateView {
 public:
  explicit StateView(const State& s, const Program& p) : s_(s), p_(p) {}
  // Every write and barrier has reached every thread.
  bool Quiescent() const;
  // The coherence-final value of a location (the newest write; unique once
  // quiescent; otherwise the newest the given thread sees).
  int64_t Memory(int loc) const;
  int64_t Sees(int thread, int loc) const;
  bool DoorbellPending(int thread) const;
  int64_t Ghost(int thread, int slot) const;
  // The next instruction the thread would fetch and whether its window is
  // empty apart from `blocked_at` (an uncommitted instruction at that index).
  int FetchPc(int thread) const;
  // Index of the oldest uncommitted instruction in the window, or -1.
  int OldestPending(int thread) const;
  int InFlight(int thread) const;
  bool Finished(int thread) const;

 private:
  const State& s_;
  const Program& p_;
};

struct ExploreOptions {
  int window = 8;            // in-flight instructions per thread
  int64_t max_states = 50'000'000;
  absl::Duration time_budget = absl::InfiniteDuration();
  // If set, exploration stops at the first state for which it returns true
  // (breadth first, so with a shortest trace).
  std::function<bool(const StateView&)> goal;
  // Record a trace to the goal (costs 8 bytes per state).
  bool want_trace = true;
  // Depth first: the same states, far fewer kept in memory at once, but a
  // trace to the goal is not the shortest.
  bool depth_first = false;
};

struct ExploreResult {
  bool complete = false;     // every reachable state was visited
  bool goal_reached = false;
  int64_t states = 0;        // distinct states visited
  int64_t transitions = 0;   // successors generated
  int64_t finals = 0;        // terminal states reached (all threads done)
  int64_t pruned = 0;        // mispredicted branches cut
  int depth = 0;             // deepest BFS level
  absl::Duration wall_time;
  std::set<Final> outcomes;  // of terminal states with every thread done
  // Goal reached: the steps from the initial state, one line each:
  // {thread, text}.
  struct Step {
    int thread = -1;   // -1: storage subsystem step not owned by a thread
    std::string text;
  };
  std::vector<Step> trace;
  std::string stop_reason;   // why not complete, if not
};

// Checks a program (locations, registers, branch targets...).
absl::Status ValidateProgram(const Program& p);

// Explores every state of `p` reachable under `options`.
absl::StatusOr<ExploreResult> Explore(const Program& p, const ExploreOptions& options);

}  // namespace power
}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_POWER_MODEL_H_
