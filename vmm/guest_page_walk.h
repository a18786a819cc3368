// Guest-virtual to guest-physical through an x86-64 guest's 4-level page
// tables (no LA57), as the CPU walks them: PML4, PDPT (1 GiB pages), PD
// (2 MiB pages), PT (4 KiB pages). For reading a stopped vCPU's kernel stack
// from the host; it checks presence only, not permissions.
//
// Threading: plain functions; the caller keeps the guest from changing the
// tables during a walk (or accepts a torn read).
#ifndef KVMBED_VMM_GUEST_PAGE_WALK_H_
#define KVMBED_VMM_GUEST_PAGE_WALK_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "vmm/guest_memory.h"

namespace kvmbed {
namespace vmm {

// Reads the 8-byte page-table entry at guest-physical address `gpa`.
using PageTableReader = std::function<absl::StatusOr<uint64_t>(uint64_t gpa)>;

// The guest-physical address `va` maps to under CR3 `cr3`; NotFound when an
// entry on the way is not present, the reader's error when a table lies
// outside guest memory.
absl::StatusOr<uint64_t> GuestVirtToPhys(const PageTableReader& read, uint64_t cr3, uint64_t va);

// The same over a VM's RAM.
absl::StatusOr<uint64_t> GuestVirtToPhys(const GuestMemory& mem, uint64_t cr3, uint64_t va);

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_GUEST_PAGE_WALK_H_
