#include "vmm/elf.h"

#include <cxxabi.h>
#include <elf.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "vmm/guest_memory.h"

namespace kvmbed {
namespace vmm {

namespace {

// True when [off, off+len) lies inside a buffer of `size` bytes (no overflow).
bool InBounds(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

template <typename T>
T ReadStruct(const std::vector<uint8_t>& b, uint64_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

// A short display name for a symbol: C++ names demangled, parameter list and
// "(anonymous namespace)::" dropped: `IdleWorkload`, `kvmbed::Foo::Bar`.
std::string DisplayName(const std::string& raw) {
  if (raw.rfind("_Z", 0) != 0) return raw;
  int status = 0;
  char* d = abi::__cxa_demangle(raw.c_str(), nullptr, nullptr, &status);
  if (status != 0 || d == nullptr) {
    std::free(d);
    return raw;
  }
  std::string name(d);
  std::free(d);
  const std::string anon = "(anonymous namespace)::";
  for (size_t p; (p = name.find(anon)) != std::string::npos;) name.erase(p, anon.size());
  size_t paren = name.find('(');
  if (paren != std::string::npos && paren > 0) name.resize(paren);
  return name;
}

}  // namespace

absl::StatusOr<ElfImage> ElfImage::Parse(absl::Span<const uint8_t> bytes,
                                         absl::string_view what) {
  ElfImage img;
  img.what_ = std::string(what);
  img.bytes_.assign(bytes.begin(), bytes.end());
  const auto& b = img.bytes_;
  auto bad = [&](const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrCat(img.what_, ": ", msg));
  };

  if (b.size() < sizeof(Elf64_Ehdr)) {
    return bad(absl::StrCat("file is ", b.size(),
                            " bytes, shorter than an ELF64 header"));
  }
  auto eh = ReadStruct<Elf64_Ehdr>(b, 0);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return bad("not an ELF file (bad magic)");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) return bad("not ELF64 (EI_CLASS)");
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return bad("not little-endian (EI_DATA)");
  if (eh.e_machine != EM_X86_64) return bad(absl::StrCat("e_machine ", eh.e_machine, " is not x86-64"));
  if (eh.e_type != ET_EXEC) return bad(absl::StrCat("e_type ", eh.e_type, " is not ET_EXEC (link it static, non-PIE)"));
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) return bad("e_phentsize is not sizeof(Elf64_Phdr)");
  if (eh.e_phnum == 0) return bad("no program headers");
  if (!InBounds(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr), b.size())) {
    return bad("program header table runs past the end of the file (e_phoff/e_phnum)");
  }
  img.entry_ = eh.e_entry;

  bool entry_in_load = false;
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    auto ph = ReadStruct<Elf64_Phdr>(b, eh.e_phoff + uint64_t{i} * sizeof(Elf64_Phdr));
    if (ph.p_type != PT_LOAD) continue;
    if (ph.p_filesz > ph.p_memsz) {
      return bad(absl::StrCat("PT_LOAD #", i, ": p_filesz > p_memsz"));
    }
    if (!InBounds(ph.p_offset, ph.p_filesz, b.size())) {
      return bad(absl::StrCat("PT_LOAD #", i, ": file range [0x", absl::Hex(ph.p_offset),
                              ", +0x", absl::Hex(ph.p_filesz), ") runs past the end of the file"));
    }
    if (ph.p_paddr + ph.p_memsz < ph.p_paddr) {
      return bad(absl::StrCat("PT_LOAD #", i, ": p_paddr + p_memsz overflows"));
    }
    if (ph.p_vaddr != ph.p_paddr) {
      return bad(absl::StrCat("PT_LOAD #", i, ": p_vaddr != p_paddr (the guest is identity mapped)"));
    }
    img.segments_.push_back(Segment{ph.p_paddr, ph.p_offset, ph.p_filesz, ph.p_memsz});
    if (eh.e_entry >= ph.p_paddr && eh.e_entry - ph.p_paddr < ph.p_memsz) entry_in_load = true;
  }
  if (img.segments_.empty()) return bad("no PT_LOAD segment");
  if (!entry_in_load) return bad(absl::StrCat("entry point 0x", absl::Hex(eh.e_entry), " is in no PT_LOAD segment"));

  // Symbols are optional (a stripped image loads but symbolizes as raw hex).
  if (eh.e_shoff != 0 && eh.e_shnum != 0) {
    if (eh.e_shentsize != sizeof(Elf64_Shdr)) return bad("e_shentsize is not sizeof(Elf64_Shdr)");
    if (!InBounds(eh.e_shoff, uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr), b.size())) {
      return bad("section header table runs past the end of the file (e_shoff/e_shnum)");
    }
    for (uint16_t i = 0; i < eh.e_shnum; ++i) {
      auto sh = ReadStruct<Elf64_Shdr>(b, eh.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr));
      if (sh.sh_type != SHT_SYMTAB) continue;
      if (sh.sh_entsize != sizeof(Elf64_Sym)) return bad("SHT_SYMTAB sh_entsize is not sizeof(Elf64_Sym)");
      if (!InBounds(sh.sh_offset, sh.sh_size, b.size())) return bad("symbol table runs past the end of the file");
      if (sh.sh_link >= eh.e_shnum) return bad("symbol table sh_link names no section");
      auto str = ReadStruct<Elf64_Shdr>(b, eh.e_shoff + uint64_t{sh.sh_link} * sizeof(Elf64_Shdr));
      if (str.sh_type != SHT_STRTAB) return bad("symbol table sh_link is not a string table");
      if (!InBounds(str.sh_offset, str.sh_size, b.size())) return bad("string table runs past the end of the file");
      uint64_t n = sh.sh_size / sizeof(Elf64_Sym);
      for (uint64_t k = 0; k < n; ++k) {
        auto sym = ReadStruct<Elf64_Sym>(b, sh.sh_offset + k * sizeof(Elf64_Sym));
        int type = ELF64_ST_TYPE(sym.st_info);
        if (type != STT_FUNC && type != STT_OBJECT) continue;
        if (sym.st_name == 0 || sym.st_name >= str.sh_size) continue;
        const char* base = reinterpret_cast<const char*>(b.data() + str.sh_offset);
        size_t maxlen = str.sh_size - sym.st_name;
        size_t len = strnlen(base + sym.st_name, maxlen);
        if (len == maxlen) return bad("symbol name not NUL-terminated inside the string table");
        std::string raw(base + sym.st_name, len);
        img.symbols_.push_back(Symbol{DisplayName(raw), raw, sym.st_value, sym.st_size});
      }
      break;  // one SHT_SYMTAB per file
    }
    std::sort(img.symbols_.begin(), img.symbols_.end(),
              [](const Symbol& a, const Symbol& b) {
                return a.addr != b.addr ? a.addr < b.addr : a.size > b.size;
              });
  }
  return img;
}

absl::Status ElfImage::Load(GuestMemory& mem, uint64_t lo, uint64_t hi) const {
  for (size_t i = 0; i < segments_.size(); ++i) {
    const Segment& s = segments_[i];
    if (s.gpa < lo || s.gpa > hi || s.memsz > hi - s.gpa) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: PT_LOAD segment [0x%x, 0x%x) lies outside the image window "
          "[0x%x, 0x%x) of guest/abi.h (fix the guest linker script)",
          what_, s.gpa, s.gpa + s.memsz, lo, hi));
    }
    ASSIGN_OR_RETURN(uint8_t * dst, mem.Translate(s.gpa, s.memsz));
    std::memcpy(dst, bytes_.data() + s.offset, s.filesz);
    std::memset(dst + s.filesz, 0, s.memsz - s.filesz);
  }
  return absl::OkStatus();
}

const ElfImage::Symbol* ElfImage::Find(uint64_t addr) const {
  // Last symbol starting at or before addr; sizes may nest, so walk back a bit.
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                             [](uint64_t a, const Symbol& s) { return a < s.addr; });
  while (it != symbols_.begin()) {
    --it;
    if (addr - it->addr < it->size) return &*it;
    if (addr - it->addr > (1u << 20)) break;  // no symbol spans that far here
  }
  return nullptr;
}

std::string ElfImage::Symbolize(uint64_t addr) const {
  if (const Symbol* s = Find(addr)) {
    return absl::StrFormat("%s+0x%x/0x%x", s->name, addr - s->addr, s->size);
  }
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                             [](uint64_t a, const Symbol& s) { return a < s.addr; });
  if (it != symbols_.begin()) {
    --it;
    if (addr - it->addr < (1u << 20)) {
      return absl::StrFormat("0x%x (no symbol; after %s+0x%x)", addr, it->name,
                             addr - it->addr);
    }
  }
  return absl::StrFormat("0x%x (no symbol)", addr);
}

absl::StatusOr<uint64_t> ElfImage::Lookup(absl::string_view name) const {
  for (const Symbol& s : symbols_) {
    if (s.name == name || s.raw == name) return s.addr;
  }
  return absl::NotFoundError(absl::StrCat(what_, ": no symbol named ", name));
}

}  // namespace vmm
}  // namespace kvmbed
