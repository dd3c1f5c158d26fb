#include "fde_index.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "leakprobe/eh_frame.h"

namespace leakprobe::symbolize::detail {

namespace {

// DW_EH_PE_* pointer encodings (LSB "Exception Frame" spec): low nibble = format, bits
// 0x70 = what the value is relative to, 0x80 = indirect.
constexpr uint8_t kOmit = leakprobe::eh::kPeOmit;
constexpr uint8_t kApplication = leakprobe::eh::kPeApplication;

// The bounds-checked .eh_frame reader the probe uses too (leakprobe/eh_frame.h), so both
// read every encoding, and every malformed one, the same way. Little-endian: other byte
// orders are refused by the caller.
using Reader = leakprobe::eh::Cursor;

// The encoding of FDE initial locations from a CIE's augmentation ("zR", "zPLR", ...);
// DW_EH_PE_absptr when the CIE has no 'R'; kOmit when the augmentation is not understood
// (its FDEs are skipped rather than misread).
uint8_t fde_encoding(const Dwarf_CIE& cie, size_t address_size) {
  const char* aug = cie.augmentation;
  if (aug == nullptr || aug[0] == '\0') return DW_EH_PE_absptr;
  if (aug[0] != 'z' || cie.augmentation_data == nullptr) return kOmit;
  Reader r(cie.augmentation_data, cie.augmentation_data + cie.augmentation_data_size);
  for (const char* c = aug + 1; *c != '\0'; ++c) {
    switch (*c) {
      case 'R':
        return static_cast<uint8_t>(r.fixed(1));
      case 'P': {
        const auto personality_encoding = static_cast<uint8_t>(r.fixed(1));
        if (personality_encoding == kOmit) return kOmit;
        r.encoded(personality_encoding, address_size);
        break;
      }
      case 'L':
        r.fixed(1);
        break;
      case 'S':  // signal frame
      case 'B':  // aarch64 BTI
      case 'G':  // MTE tagged frames
        break;
      default:
        return kOmit;
    }
    if (!r.ok()) return kOmit;
  }
  return DW_EH_PE_absptr;
}

}  // namespace

FdeIndex::FdeIndex(Elf* elf) {
  if (elf == nullptr) return;
  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf, &ehdr) == nullptr || ehdr.e_ident[EI_DATA] != ELFDATA2LSB) return;
  const size_t address_size = ehdr.e_ident[EI_CLASS] == ELFCLASS32 ? 4 : 8;
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return;

  Elf_Scn* scn = nullptr;
  GElf_Shdr shdr;
  bool found = false;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_PROGBITS) continue;
    const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
    if (name != nullptr && std::strcmp(name, ".eh_frame") == 0) {
      found = true;
      break;
    }
  }
  if (!found) return;
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr || data->d_buf == nullptr || data->d_size == 0) return;
  const auto* base = static_cast<const uint8_t*>(data->d_buf);

  std::unordered_map<Dwarf_Off, uint8_t> encodings;  // CIE offset -> FDE pointer encoding
  auto encoding_of = [&](Dwarf_Off cie_offset) -> uint8_t {
    auto it = encodings.find(cie_offset);
    if (it != encodings.end()) return it->second;
    Dwarf_Off next = 0;
    Dwarf_CFI_Entry entry;
    uint8_t encoding = kOmit;
    if (dwarf_next_cfi(ehdr.e_ident, data, true, cie_offset, &next, &entry) == 0 &&
        dwarf_cfi_cie_p(&entry)) {
      encoding = fde_encoding(entry.cie, address_size);
    }
    encodings.emplace(cie_offset, encoding);
    return encoding;
  };

  Dwarf_Off offset = 0;
  for (;;) {
    Dwarf_Off next = 0;
    Dwarf_CFI_Entry entry;
    if (dwarf_next_cfi(ehdr.e_ident, data, true, offset, &next, &entry) != 0) break;
    if (next <= offset) break;  // a zero-length entry would loop forever
    offset = next;
    if (dwarf_cfi_cie_p(&entry)) continue;
    const uint8_t encoding = encoding_of(entry.fde.CIE_pointer);
    // Absolute or pc-relative is all GCC and Clang emit for .eh_frame on Linux; the other
    // bases (text, data, function, indirect) would need more than the file to resolve.
    if (encoding == kOmit || (encoding & DW_EH_PE_indirect) ||
        ((encoding & kApplication) != DW_EH_PE_absptr &&
         (encoding & kApplication) != DW_EH_PE_pcrel)) {
      continue;
    }
    Reader r(entry.fde.start, entry.fde.end);
    const uint64_t field_vaddr = shdr.sh_addr + static_cast<uint64_t>(entry.fde.start - base);
    uint64_t start = r.encoded(encoding, address_size);
    const uint64_t length = r.encoded(encoding & 0x0f, address_size);
    if (!r.ok() || length == 0) continue;
    if ((encoding & kApplication) == DW_EH_PE_pcrel) start += field_vaddr;
    if (start + length < start) continue;
    ranges_.push_back({start, start + length});
  }
  std::sort(ranges_.begin(), ranges_.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
}

bool FdeIndex::find(uint64_t vaddr, Range* out) const {
  auto after = std::upper_bound(ranges_.begin(), ranges_.end(), vaddr,
                                [](uint64_t a, const Range& r) { return a < r.start; });
  if (after == ranges_.begin()) return false;
  const Range& r = *(after - 1);
  if (vaddr >= r.end) return false;
  *out = r;
  return true;
}

}  // namespace leakprobe::symbolize::detail
