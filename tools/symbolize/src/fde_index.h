// Every function's extent from the unwind tables (.eh_frame FDEs), named or not.
//
// A stripped binary names only its exported functions (.dynsym); its static functions are
// gaps between them, and a nearest-symbol lookup would give their code a neighbour's name.
// The compiler emits one FDE per function (per part, for hot/cold splits) into .eh_frame,
// which is never stripped because the C++ runtime and unwinders need it at run time, so the
// FDE that covers an address says where that function starts and ends.
//
// libdw's dwarf_cfi_addrframe/dwarf_frame_info give only the CFA row around an address (a
// sub-range of the FDE), so the FDEs are read here with dwarf_next_cfi and their initial
// location and range decoded as the CIE's augmentation says.
#pragma once

#include <elfutils/libdwfl.h>

#include <cstdint>
#include <vector>

namespace leakprobe::symbolize::detail {

class FdeIndex {
 public:
  // Reads .eh_frame of `elf` (the main file, where the loader needs it). Malformed entries
  // end the scan: what was read before them is kept, nothing is guessed.
  explicit FdeIndex(Elf* elf);

  struct Range {
    uint64_t start;  // link-time address (ELF virtual address), as objdump shows it
    uint64_t end;    // exclusive
  };

  // The FDE covering `vaddr` (a link-time address). False if none does.
  bool find(uint64_t vaddr, Range* out) const;

  size_t size() const { return ranges_.size(); }

 private:
  std::vector<Range> ranges_;  // sorted by start
};

}  // namespace leakprobe::symbolize::detail
