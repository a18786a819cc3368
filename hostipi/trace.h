// A cheap, bounded per-CPU event trace of the host-IPI protocol, printed in
// stall reports in the style of the seed's CPU-by-CPU diagrams:
//     105: kvmppc_set_host_ipi(42, 1)
//
// The ring itself (EventRing) serves every modelled scenario; the wake_list
// scenario keeps its own event kinds in it.
//
// Threading: each ring has ONE writer at a time (the host_ipi plane: the
// modelled CPU that owns it; emulated scenarios: their one OS thread); any
// thread may read it at any time (entries are relaxed atomics, so a reader
// racing the writer may see a torn event, never undefined behaviour). Writes
// are plain stores on x86 (no fences), so tracing does not change the
// memory ordering being studied.
#ifndef KVMBED_HOSTIPI_TRACE_H_
#define KVMBED_HOSTIPI_TRACE_H_

#include <algorithm>
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

// One event of a ring: `cpu` is the CPU that wrote it (the ring's owner
// unless the writer named itself).
template <typename Kind>
struct RingEvent {
  int64_t t = 0;     // CpuMemory::NowNs()
  uint64_t seq = 0;  // per-ring sequence, orders events with equal t
  int cpu = 0;
  Kind kind = Kind{};
  bool flag = false;
  uint64_t a = 0;
  uint64_t b = 0;
};

// A ring of the last `Capacity` events of kind `Kind` (an 8-bit enum). One
// writer at a time; readers may race it (see the file comment).
template <typename Kind, int Capacity>
class EventRing {
 public:
  static constexpr int kCapacity = Capacity;
  static constexpr int kMaxWriterCpu = 126;  // 7 bits, stored as cpu + 1

  // Appends one event. `writer_cpu` names the CPU the event comes from when
  // it is not the ring's owner (0..kMaxWriterCpu); -1 = the owner.
  void Add(int64_t t, Kind kind, uint64_t a = 0, uint64_t b = 0,
           bool flag = false, int writer_cpu = -1) {
    uint64_t seq = head_.load(std::memory_order_relaxed);
    Slot& s = slots_[seq % kCapacity];
    const uint64_t writer =
        writer_cpu >= 0 && writer_cpu <= kMaxWriterCpu ? writer_cpu + 1 : 0;
    s.t.store(t, std::memory_order_relaxed);
    s.kind.store(static_cast<uint64_t>(kind) | (flag ? 0x100 : 0) |
                     (writer << 9) | (seq << 16),
                 std::memory_order_relaxed);
    s.a.store(a, std::memory_order_relaxed);
    s.b.store(b, std::memory_order_relaxed);
    head_.store(seq + 1, std::memory_order_release);
  }

  // The last `max` events of the ring owned by CPU `owner_cpu`, oldest
  // first (any thread). An event overwritten while being read is left out.
  std::vector<RingEvent<Kind>> Snapshot(int owner_cpu, int max = kCapacity) const {
    const uint64_t head = head_.load(std::memory_order_acquire);
    const uint64_t n = std::min<uint64_t>({head, static_cast<uint64_t>(kCapacity),
                                           static_cast<uint64_t>(std::max(max, 0))});
    std::vector<RingEvent<Kind>> out;
    out.reserve(n);
    for (uint64_t seq = head - n; seq < head; ++seq) {
      const Slot& s = slots_[seq % kCapacity];
      const uint64_t k = s.kind.load(std::memory_order_relaxed);
      if ((k >> 16) != (seq & 0xffffffffffffull)) continue;  // overwritten/torn
      RingEvent<Kind> e;
      e.t = s.t.load(std::memory_order_relaxed);
      e.seq = seq;
      const int writer = static_cast<int>((k >> 9) & 0x7f);
      e.cpu = writer > 0 ? writer - 1 : owner_cpu;
      e.kind = static_cast<Kind>(k & 0xff);
      e.flag = (k & 0x100) != 0;
      e.a = s.a.load(std::memory_order_relaxed);
      e.b = s.b.load(std::memory_order_relaxed);
      out.push_back(e);
    }
    return out;
  }

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

// The host_ipi plane's rings: one per CPU, written by that CPU only.
using TraceEvent = RingEvent<TraceKind>;
using TraceRing = EventRing<TraceKind, 256>;

}  // namespace hostipi
}  // namespace kvmbed

#endif  // KVMBED_HOSTIPI_TRACE_H_
