// Fuzz target: the ELF loader, given arbitrary guest images. Parse must
// refuse what it cannot load without reading outside the input; a parsed
// image must load into guest RAM only inside the image window, and its
// symbol lookups must be consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "absl/types/span.h"
#include "guest/abi.h"
#include "vmm/elf.h"
#include "vmm/guest_memory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kvmbed::vmm::ElfImage;
  absl::StatusOr<ElfImage> img = ElfImage::Parse(absl::MakeConstSpan(data, size), "fuzz ELF");
  if (!img.ok()) {
    if (img.status().message().size() > 4096) std::abort();
    return 0;
  }
  for (const ElfImage::Symbol& s : img->symbols()) {
    (void)img->Symbolize(s.addr);
    (void)img->Symbolize(s.addr + s.size);
    absl::StatusOr<uint64_t> a = img->Lookup(s.raw);
    if (!a.ok()) std::abort();  // a listed symbol must be found by its name
  }
  (void)img->Symbolize(img->entry());
  (void)img->Symbolize(0);
  (void)img->Symbolize(~uint64_t{0});
  // 4 MiB of guest RAM holds the whole image window [1 MiB, 4 MiB).
  static std::unique_ptr<kvmbed::vmm::GuestMemory> mem = [] {
    auto m = kvmbed::vmm::GuestMemory::Create(4u << 20);
    if (!m.ok()) std::abort();
    return std::move(*m);
  }();
  absl::Status loaded = img->Load(*mem, kvmbed::abi::kImageBase, kvmbed::abi::kImageLimit);
  if (loaded.ok()) {
    for (const ElfImage::Segment& s : img->segments()) {
      if (s.gpa < kvmbed::abi::kImageBase || s.memsz > kvmbed::abi::kImageLimit - s.gpa) {
        std::abort();  // loaded outside the window it was given
      }
    }
  }
  return 0;
}
