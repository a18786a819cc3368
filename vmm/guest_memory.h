// Guest RAM: anonymous MAP_NORESERVE mappings (only touched pages cost host
// memory), registered with KVM as memory slots, with bounds-checked
// GPA -> HVA translation so no guest-supplied address reaches outside RAM.
//
// Layout (guest/abi.h): RAM [0, min(size, 3 GiB)) and, for larger sizes,
// [4 GiB, 4 GiB + rest). [3 GiB, 4 GiB) is a hole (MMIO exits).
//
// Threading: the layout is fixed at Create(); Translate()/Read()/Write() are
// safe from any thread (they touch only guest bytes, whose synchronisation is
// the caller's business).
#ifndef KVMBED_VMM_GUEST_MEMORY_H_
#define KVMBED_VMM_GUEST_MEMORY_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kvmbed {
namespace vmm {

class Vm;

class GuestMemory {
 public:
  // One contiguous range of guest RAM backed by one host mapping.
  struct Region {
    uint64_t gpa = 0;
    uint64_t size = 0;
    uint8_t* hva = nullptr;
  };

  // Maps `bytes` of guest RAM (a multiple of 2 MiB, >= 2 MiB) split around
  // the 3..4 GiB hole. Nothing is registered with KVM yet. When a mapping
  // fails (no memory, ulimit -v) nothing stays mapped and the error is a
  // ResourceExhausted host error (IsHostError, vmm/kvm.h).
  static absl::StatusOr<std::unique_ptr<GuestMemory>> Create(uint64_t bytes);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // KVM_SET_USER_MEMORY_REGION for every region (slots 0, 1, ...).
  absl::Status Register(Vm& vm);

  // Hook for later: madvise(MADV_HUGEPAGE) and/or madvise(MADV_MERGEABLE) on
  // every region (KSM merging is what the seed's ksmd senders need).
  absl::Status Advise(bool hugepages, bool mergeable);

  uint64_t size() const { return size_; }
  const std::vector<Region>& regions() const { return regions_; }

  // Host address of guest range [gpa, gpa+len), which must lie inside one
  // region (len may be 0 only for a gpa inside RAM). OutOfRange otherwise.
  absl::StatusOr<uint8_t*> Translate(uint64_t gpa, uint64_t len) const;

  // Typed translation of a T at gpa (bounds- and alignment-checked).
  template <typename T>
  absl::StatusOr<T*> TranslateAs(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable<T>::value, "guest data is POD");
    if (gpa % alignof(T) != 0) return MisalignedError(gpa, alignof(T));
    auto p = Translate(gpa, sizeof(T));
    if (!p.ok()) return p.status();
    return reinterpret_cast<T*>(*p);
  }

  // Copies guest bytes out / in (bounds-checked).
  absl::Status Read(uint64_t gpa, void* dst, uint64_t len) const;
  absl::Status Write(uint64_t gpa, const void* src, uint64_t len);

  // Copies a T out of guest memory (a snapshot: the guest cannot change it
  // under the caller afterwards).
  template <typename T>
  absl::StatusOr<T> ReadAs(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable<T>::value, "guest data is POD");
    T value;
    absl::Status s = Read(gpa, &value, sizeof(T));
    if (!s.ok()) return s;
    return value;
  }

 private:
  GuestMemory() = default;
  static absl::Status MisalignedError(uint64_t gpa, size_t align);
  uint64_t size_ = 0;
  std::vector<Region> regions_;
};

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_GUEST_MEMORY_H_
