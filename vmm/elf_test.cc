#include "vmm/elf.h"

#include <elf.h>

#include <cstring>
#include <functional>
#include <vector>

#include "gtest/gtest.h"
#include "guest/abi.h"
#include "guest/image.h"
#include "vmm/guest_memory.h"

namespace kvmbed {
namespace vmm {
namespace {

std::vector<uint8_t> GuestBytes() {
  auto img = guest::Image();
  return std::vector<uint8_t>(img.begin(), img.end());
}

template <typename T>
T Get(const std::vector<uint8_t>& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}
template <typename T>
void Put(std::vector<uint8_t>& b, size_t off, const T& v) {
  std::memcpy(b.data() + off, &v, sizeof(T));
}

TEST(ElfImage, ParsesTheEmbeddedGuest) {
  auto img = ElfImage::Parse(guest::Image());
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_GE(img->entry(), abi::kImageBase);
  EXPECT_LT(img->entry(), abi::kImageLimit);
  ASSERT_FALSE(img->segments().empty());
  auto start = img->Lookup("_start");
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(*start, img->entry());
  EXPECT_TRUE(img->Lookup("guest_main").ok());
  EXPECT_FALSE(img->Lookup("no_such_symbol").ok());
}

TEST(ElfImage, SymbolizesInsideAndOutsideSymbols) {
  auto img = ElfImage::Parse(guest::Image());
  ASSERT_TRUE(img.ok());
  auto addr = img->Lookup("guest_main");
  ASSERT_TRUE(addr.ok());
  const ElfImage::Symbol* sym = img->Find(*addr);
  ASSERT_NE(sym, nullptr);
  ASSERT_GT(sym->size, 4u);
  char want[128];
  std::snprintf(want, sizeof(want), "guest_main+0x4/0x%lx", static_cast<unsigned long>(sym->size));
  EXPECT_EQ(img->Symbolize(*addr + 4), want);
  EXPECT_EQ(img->Symbolize(*addr).rfind("guest_main+0x0/0x", 0), 0u);
  // Far from any symbol: honest raw address.
  EXPECT_EQ(img->Symbolize(0xdead00000000ull), "0xdead00000000 (no symbol)");
  EXPECT_EQ(img->Find(0x10), nullptr);
  EXPECT_EQ(img->Symbolize(0x10), "0x10 (no symbol)");
}

TEST(ElfImage, DemangledShortNames) {
  auto img = ElfImage::Parse(guest::Image());
  ASSERT_TRUE(img.ok());
  // A function in an anonymous namespace: shown short, found by either name.
  auto addr = img->Lookup("IdleWorkload");
  ASSERT_TRUE(addr.ok()) << addr.status();
  const ElfImage::Symbol* sym = img->Find(*addr);
  ASSERT_NE(sym, nullptr);
  EXPECT_EQ(sym->name, "IdleWorkload");
  EXPECT_EQ(sym->raw.rfind("_Z", 0), 0u) << sym->raw;
  EXPECT_EQ(*img->Lookup(sym->raw), *addr);
  EXPECT_EQ(img->Symbolize(*addr).rfind("IdleWorkload+0x0/0x", 0), 0u);
}

TEST(ElfImage, LoadsSegmentsAndZeroesBss) {
  auto img = ElfImage::Parse(guest::Image());
  ASSERT_TRUE(img.ok());
  auto mem = GuestMemory::Create(16ull << 20);
  ASSERT_TRUE(mem.ok());
  // Dirty the image window so bss zeroing is observable.
  auto window = (*mem)->Translate(abi::kImageBase, abi::kImageLimit - abi::kImageBase);
  ASSERT_TRUE(window.ok());
  std::memset(*window, 0xcc, abi::kImageLimit - abi::kImageBase);
  ASSERT_TRUE(img->Load(**mem, abi::kImageBase, abi::kImageLimit).ok());
  auto bytes = GuestBytes();
  for (const auto& s : img->segments()) {
    auto p = (*mem)->Translate(s.gpa, s.memsz);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(std::memcmp(*p, bytes.data() + s.offset, s.filesz), 0);
    for (uint64_t i = s.filesz; i < s.memsz; ++i) ASSERT_EQ((*p)[i], 0) << i;
  }
  // A window that excludes the image is refused, naming the fix.
  absl::Status st = img->Load(**mem, abi::kImageLimit, abi::kImageLimit + 0x100000);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("linker script"), std::string::npos) << st;
}

// Each corruption must give an error, never a crash (run under ASan-free
// builds too: all checks are explicit bounds checks).
TEST(ElfImage, RejectsCorruptedImages) {
  const auto good = GuestBytes();
  auto eh = Get<Elf64_Ehdr>(good, 0);
  struct Case {
    const char* what;
    std::function<void(std::vector<uint8_t>&)> corrupt;
  };
  std::vector<Case> cases = {
      {"empty", [](std::vector<uint8_t>& b) { b.clear(); }},
      {"truncated header", [](std::vector<uint8_t>& b) { b.resize(20); }},
      {"bad magic", [](std::vector<uint8_t>& b) { b[1] = 'X'; }},
      {"ELF32", [](std::vector<uint8_t>& b) { b[EI_CLASS] = ELFCLASS32; }},
      {"big endian", [](std::vector<uint8_t>& b) { b[EI_DATA] = ELFDATA2MSB; }},
      {"wrong machine", [&](std::vector<uint8_t>& b) { auto h = eh; h.e_machine = EM_AARCH64; Put(b, 0, h); }},
      {"PIE", [&](std::vector<uint8_t>& b) { auto h = eh; h.e_type = ET_DYN; Put(b, 0, h); }},
      {"phoff past end", [&](std::vector<uint8_t>& b) { auto h = eh; h.e_phoff = b.size() - 8; Put(b, 0, h); }},
      {"phoff overflow", [&](std::vector<uint8_t>& b) { auto h = eh; h.e_phoff = ~0ull - 8; Put(b, 0, h); }},
      {"phnum huge", [&](std::vector<uint8_t>& b) { auto h = eh; h.e_phnum = 0xffff; Put(b, 0, h); }},
      {"phentsize", [&](std::vector<uint8_t>& b) { auto h = eh; h.e_phentsize = 12; Put(b, 0, h); }},
      {"no phdrs", [&](std::vector<uint8_t>& b) { auto h = eh; h.e_phnum = 0; Put(b, 0, h); }},
      {"entry outside", [&](std::vector<uint8_t>& b) { auto h = eh; h.e_entry = 0x10; Put(b, 0, h); }},
      {"segment filesz past end", [&](std::vector<uint8_t>& b) {
         auto ph = Get<Elf64_Phdr>(b, eh.e_phoff); ph.p_filesz = ph.p_memsz = b.size() * 2; Put(b, eh.e_phoff, ph); }},
      {"segment offset overflow", [&](std::vector<uint8_t>& b) {
         auto ph = Get<Elf64_Phdr>(b, eh.e_phoff); ph.p_offset = ~0ull - 4; Put(b, eh.e_phoff, ph); }},
      {"filesz > memsz", [&](std::vector<uint8_t>& b) {
         auto ph = Get<Elf64_Phdr>(b, eh.e_phoff); ph.p_memsz = ph.p_filesz - 1; Put(b, eh.e_phoff, ph); }},
      {"paddr overflow", [&](std::vector<uint8_t>& b) {
         auto ph = Get<Elf64_Phdr>(b, eh.e_phoff); ph.p_paddr = ph.p_vaddr = ~0ull - 8; Put(b, eh.e_phoff, ph); }},
      {"shoff past end", [&](std::vector<uint8_t>& b) { auto h = eh; h.e_shoff = b.size(); Put(b, 0, h); }},
      {"shentsize", [&](std::vector<uint8_t>& b) { auto h = eh; h.e_shentsize = 3; Put(b, 0, h); }},
      {"symtab past end", [&](std::vector<uint8_t>& b) {
         for (int i = 0; i < eh.e_shnum; ++i) {
           size_t off = eh.e_shoff + i * sizeof(Elf64_Shdr);
           auto sh = Get<Elf64_Shdr>(b, off);
           if (sh.sh_type == SHT_SYMTAB) { sh.sh_size = b.size(); Put(b, off, sh); }
         } }},
      {"symtab bad link", [&](std::vector<uint8_t>& b) {
         for (int i = 0; i < eh.e_shnum; ++i) {
           size_t off = eh.e_shoff + i * sizeof(Elf64_Shdr);
           auto sh = Get<Elf64_Shdr>(b, off);
           if (sh.sh_type == SHT_SYMTAB) { sh.sh_link = 999; Put(b, off, sh); }
         } }},
      {"strtab unterminated", [&](std::vector<uint8_t>& b) {
         for (int i = 0; i < eh.e_shnum; ++i) {
           size_t off = eh.e_shoff + i * sizeof(Elf64_Shdr);
           auto sh = Get<Elf64_Shdr>(b, off);
           if (sh.sh_type == SHT_SYMTAB) {
             auto str = Get<Elf64_Shdr>(b, eh.e_shoff + sh.sh_link * sizeof(Elf64_Shdr));
             std::memset(b.data() + str.sh_offset, 'A', str.sh_size);
           }
         } }},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> b = good;
    c.corrupt(b);
    auto img = ElfImage::Parse(b, "corrupt.elf");
    EXPECT_FALSE(img.ok()) << c.what << " was accepted";
    if (!img.ok()) {
      EXPECT_EQ(img.status().message().rfind("corrupt.elf: ", 0), 0u) << img.status();
    }
  }
}

TEST(ElfImage, RandomByteFlipsNeverCrash) {
  const auto good = GuestBytes();
  uint64_t x = 0x9e3779b97f4a7c15ull;
  auto mem = GuestMemory::Create(16ull << 20);
  ASSERT_TRUE(mem.ok());
  int rejected = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<uint8_t> b = good;
    for (int k = 0; k < 4; ++k) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      // Concentrate on the headers, where the parser looks.
      size_t off = (k % 2 == 0) ? x % 256 : x % b.size();
      b[off] = static_cast<uint8_t>(x >> 32);
    }
    auto img = ElfImage::Parse(b, "fuzz.elf");
    if (!img.ok()) { ++rejected; continue; }
    img->Symbolize(img->entry());
    (void)img->Load(**mem, abi::kImageBase, abi::kImageLimit);
  }
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
