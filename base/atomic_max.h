// Raises an atomic to at least a value (a lock-free running maximum).
#ifndef KVMBED_BASE_ATOMIC_MAX_H_
#define KVMBED_BASE_ATOMIC_MAX_H_

#include <atomic>

namespace kvmbed {

// Stores v into a if v is larger than a's value; any thread, relaxed.
template <typename T>
void AtomicMax(std::atomic<T>& a, T v) {
  T cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

}  // namespace kvmbed

#endif  // KVMBED_BASE_ATOMIC_MAX_H_
