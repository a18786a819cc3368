// A cheap, bounded per-CPU event trace of the host-IPI protocol, printed in
// stall reports in the style of the seed's CPU-by-CPU diagrams:
//     105: kvmppc_set_host_ipi(42, 1)
//
// Threading: each ring has ONE writer (the modelled CPU that owns it); any
// thread may read it at any time (entries are relaxed atomics, so a reader
// racing the writer may see a torn event, never undefined behaviour). Writes
// are plain stores on x86 (no fences), so tracing does not change the
// memory ordering being studied.
#ifndef KVMBED_HOSTIPI_TRACE_H_
#define KVMBED_HOSTIPI_TRACE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace kvmbed {
namespace hostipi {

enum class TraceKind : uint8_t {
  kSetMessage,     // a = target, b = message | 0x100 if still buffered;
                   // flag = message-pass mb
  kSetHostIpi,     // a = target, b = still buffered; flag = mb before set
  kMsgsnd,         // a = target
  kDoorbellGuest,  // doorbell taken in guest; a = host_ipi read, b = messages
  kIgnored,        // host_ipi == 0: taken as the guest's doorbell
  kDoorbellHost,   // doorbell_exception() in host mode
  kClearHostIpi,   // a = still buffered (emulated); flag = mb after clear
  kDemux,          // a = messages read, b = DemuxRead; flag = peek saw 0
  kRunCsd,         // a = sender, b = func
  kCsdUnlock,      // a = sender
  kEnterGuest,
  kGuestExit,     // the guest left on its own (page fault)
  kCallMany,      // a = target mask, b = func
  kCsdWait,       // a = target, b = func
  kCsdWaitDone,   // a = target
  kStall,         // a = target, b = report number
  kResend,        // a = target
  kGap,           // (reports only) events left out here
  kStoreVisible,  // emulated: a store traced as buffered became visible;
                  // a = the word's CPU, b = message m (0..3) or 4 =
                  // host_ipi; flag = dropped (coherence-ordered before a
                  // newer value: never seen by others)
};

struct TraceEvent {
  int64_t t = 0;     // CpuMemory::NowNs()
  uint64_t seq = 0;  // per-CPU sequence, orders events with equal t
  int cpu = 0;
  TraceKind kind = TraceKind::kEnterGuest;
  bool flag = false;
  uint64_t a = 0;
  uint64_t b = 0;
};

// One CPU's ring of the last kCapacity events.
class TraceRing {
 public:
  static constexpr int kCapacity = 256;

  // Appends one event (owner thread only).
  void Add(int64_t t, TraceKind kind, uint64_t a = 0, uint64_t b = 0,
           bool flag = false) {
    uint64_t seq = head_.load(std::memory_order_relaxed);
    Slot& s = slots_[seq % kCapacity];
    s.t.store(t, std::memory_order_relaxed);
    s.kind.store(static_cast<uint64_t>(kind) | (flag ? 0x100 : 0) | (seq << 16),
                 std::memory_order_relaxed);
    s.a.store(a, std::memory_order_relaxed);
    s.b.store(b, std::memory_order_relaxed);
    head_.store(seq + 1, std::memory_order_release);
  }

  // The last `max` events of CPU `cpu`, oldest first (any thread).
  std::vector<TraceEvent> Snapshot(int cpu, int max = kCapacity) const;

 private:
  struct Slot {
    std::atomic<int64_t> t{0};
    std::atomic<uint64_t> kind{0};
    std::atomic<uint64_t> a{0};
    std::atomic<uint64_t> b{0};
  };
  std::atomic<uint64_t> head_{0};
  Slot slots_[kCapacity];
};

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_TRACE_H_
