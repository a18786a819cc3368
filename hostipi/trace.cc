#include "hostipi/trace.h"

#include <algorithm>

namespace kvmbed {
namespace hostipi {

std::vector<TraceEvent> TraceRing::Snapshot(int cpu, int max) const {
  uint64_t head = head_.load(std::memory_order_acquire);
  uint64_t n = std::min<uint64_t>({head, static_cast<uint64_t>(kCapacity),
                                   static_cast<uint64_t>(std::max(max, 0))});
  std::vector<TraceEvent> out;
  out.reserve(n);
  for (uint64_t seq = head - n; seq < head; ++seq) {
    const Slot& s = slots_[seq % kCapacity];
    TraceEvent e;
    uint64_t k = s.kind.load(std::memory_order_relaxed);
    if ((k >> 16) != (seq & 0xffffffffffffull)) continue;  // overwritten/torn
    e.t = s.t.load(std::memory_order_relaxed);
    e.seq = seq;
    e.cpu = cpu;
    e.kind = static_cast<TraceKind>(k & 0xff);
    e.flag = (k & 0x100) != 0;
    e.a = s.a.load(std::memory_order_relaxed);
    e.b = s.b.load(std::memory_order_relaxed);
    out.push_back(e);
  }
  return out;
}

}  // namespace hostipi
}  // namespace kvmbed
