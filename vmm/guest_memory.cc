#include "vmm/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "guest/abi.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace vmm {

namespace {
constexpr uint64_t k2M = 2ull << 20;
}  // namespace

absl::StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::Create(uint64_t bytes) {
  if (bytes < k2M || bytes % k2M != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "guest memory size ", bytes, " bytes: must be a non-zero multiple of 2 MiB"));
  }
  std::unique_ptr<GuestMemory> mem(new GuestMemory());
  mem->size_ = bytes;
  uint64_t low = std::min(bytes, abi::kLowMemLimit);
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {{0, low}};
  if (bytes > low) ranges.push_back({abi::kHighMemGpa, bytes - low});
  for (const auto& r : ranges) {
    void* p = mmap(nullptr, r.second, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      // `mem` unmaps the regions mapped so far. The host (or its address
      // space limit, ulimit -v) is what failed: a host error, exit 2.
      const int err = errno;
      return MarkHostError(absl::ResourceExhaustedError(absl::StrCat(
          "cannot allocate ", bytes >> 20, " MiB of guest RAM: mmap of ", r.second >> 20,
          " MiB at gpa 0x", absl::Hex(r.first), " failed: ", std::strerror(err),
          " (errno ", err, "); the host's memory or this process's address space limit "
          "(ulimit -v) is too small: give the VM less memory or raise the limit")));
    }
    mem->regions_.push_back(Region{r.first, r.second, static_cast<uint8_t*>(p)});
  }
  return mem;
}

GuestMemory::~GuestMemory() {
  for (const Region& r : regions_) munmap(r.hva, r.size);
}

absl::Status GuestMemory::Register(Vm& vm) {
  for (size_t i = 0; i < regions_.size(); ++i) {
    const Region& r = regions_[i];
    RETURN_IF_ERROR(
        vm.SetUserMemoryRegion(static_cast<uint32_t>(i), r.gpa, r.size, r.hva));
  }
  return absl::OkStatus();
}

absl::Status GuestMemory::Advise(bool hugepages, bool mergeable) {
  for (const Region& r : regions_) {
    if (hugepages && madvise(r.hva, r.size, MADV_HUGEPAGE) < 0) {
      return absl::ErrnoToStatus(errno, "madvise(MADV_HUGEPAGE) on guest RAM");
    }
    if (mergeable && madvise(r.hva, r.size, MADV_MERGEABLE) < 0) {
      return absl::ErrnoToStatus(errno, "madvise(MADV_MERGEABLE) on guest RAM");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint8_t*> GuestMemory::Translate(uint64_t gpa, uint64_t len) const {
  for (const Region& r : regions_) {
    // Written so nothing overflows: gpa - r.gpa only once gpa >= r.gpa.
    if (gpa < r.gpa || gpa - r.gpa >= r.size) continue;
    uint64_t off = gpa - r.gpa;
    if (len > r.size - off) break;
    return r.hva + off;
  }
  return absl::OutOfRangeError(
      absl::StrCat("guest range [0x", absl::Hex(gpa), ", +0x", absl::Hex(len),
                   ") is not inside guest RAM (", size_, " bytes)"));
}

absl::Status GuestMemory::Read(uint64_t gpa, void* dst, uint64_t len) const {
  ASSIGN_OR_RETURN(uint8_t * src, Translate(gpa, len));
  std::memcpy(dst, src, len);
  return absl::OkStatus();
}

absl::Status GuestMemory::Write(uint64_t gpa, const void* src, uint64_t len) {
  ASSIGN_OR_RETURN(uint8_t * dst, Translate(gpa, len));
  std::memcpy(dst, src, len);
  return absl::OkStatus();
}

absl::Status GuestMemory::MisalignedError(uint64_t gpa, size_t align) {
  return absl::InvalidArgumentError(absl::StrCat(
      "guest address 0x", absl::Hex(gpa), " is not ", align, "-byte aligned"));
}

}  // namespace vmm
}  // namespace kvmbed
