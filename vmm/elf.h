// A defensive ELF64 (x86-64, ET_EXEC) reader: validates every header, offset
// and size against the file before use, loads PT_LOAD segments into guest
// memory inside an allowed GPA window, and keeps the symbol table so guest
// addresses can be shown as `name+0xoff/0xsize`.
//
// Threading: immutable after Parse(); all const methods are thread-safe.
#ifndef KVMBED_VMM_ELF_H_
#define KVMBED_VMM_ELF_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace kvmbed {
namespace vmm {

class GuestMemory;

class ElfImage {
 public:
  struct Segment {
    uint64_t gpa = 0;      // p_paddr (== p_vaddr for our identity-mapped guest)
    uint64_t offset = 0;   // p_offset
    uint64_t filesz = 0;
    uint64_t memsz = 0;
  };
  struct Symbol {
    std::string name;  // demangled, without parameters or "(anonymous namespace)::"
    std::string raw;   // as in the symbol table (mangled for C++)
    uint64_t addr = 0;
    uint64_t size = 0;
  };

  // Parses and validates `bytes` (copied). `what` names the image in errors.
  static absl::StatusOr<ElfImage> Parse(absl::Span<const uint8_t> bytes,
                                        absl::string_view what = "guest ELF");

  // Copies every PT_LOAD segment into `mem` and zeroes its bss. Every segment
  // must lie inside [lo, hi) and inside guest RAM.
  absl::Status Load(GuestMemory& mem, uint64_t lo, uint64_t hi) const;

  uint64_t entry() const { return entry_; }
  const std::vector<Segment>& segments() const { return segments_; }
  // Function and object symbols with a name, sorted by address.
  const std::vector<Symbol>& symbols() const { return symbols_; }

  // `name+0xoff/0xsize` for an address inside a sized symbol; for an address
  // in no symbol, `0x<addr> (no symbol; after name+0xoff)` or
  // `0x<addr> (no symbol)`.
  std::string Symbolize(uint64_t addr) const;
  // The symbol whose [addr, addr+size) holds `addr`, nullptr if none.
  const Symbol* Find(uint64_t addr) const;
  // The address of the symbol called `name` (display or raw), NotFound if absent.
  absl::StatusOr<uint64_t> Lookup(absl::string_view name) const;

 private:
  ElfImage() = default;
  std::string what_;
  std::vector<uint8_t> bytes_;
  uint64_t entry_ = 0;
  std::vector<Segment> segments_;
  std::vector<Symbol> symbols_;
};

}  // namespace vmm
}  // namespace kvmbed

#endif  // KVMBED_VMM_ELF_H_
