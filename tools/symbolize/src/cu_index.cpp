#include "cu_index.h"

#include <dwarf.h>

#include <algorithm>

namespace leakprobe::symbolize::detail {

namespace {

// Same traversal as the scope walk in source_frames.cpp, without a pc: code scopes are
// recorded (not entered), namespaces/classes/imported units are entered. Each imported unit is
// entered once, and depth is bounded, so corrupt DWARF cannot loop or explode.
template <typename Range>
void collect(Dwarf_Die* parent, int depth, std::vector<Dwarf_Off>* imported,
             std::vector<Range>* out) {
  if (depth > 64) return;
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return;
  do {
    const int tag = dwarf_tag(&child);
    if (is_code_scope(tag)) {
      Dwarf_Addr base = 0, low = 0, high = 0;
      for (ptrdiff_t offset = 0; (offset = dwarf_ranges(&child, offset, &base, &low, &high)) > 0;) {
        if (low < high) out->push_back(Range{low, high, child});
      }
    } else if (tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
               tag == DW_TAG_structure_type) {
      collect(&child, depth + 1, imported, out);
    } else if (tag == DW_TAG_imported_unit) {
      Dwarf_Attribute attr;
      Dwarf_Die unit;
      if (dwarf_formref_die(dwarf_attr(&child, DW_AT_import, &attr), &unit) == nullptr) continue;
      const Dwarf_Off offset = dwarf_dieoffset(&unit);
      if (std::find(imported->begin(), imported->end(), offset) != imported->end()) continue;
      imported->push_back(offset);
      collect(&unit, depth + 1, imported, out);
    }
  } while (dwarf_siblingof(&child, &child) == 0);
}

}  // namespace

bool CuIndex::find(Dwarf_Die* cudie, Dwarf_Addr pc, Dwarf_Die* scope) {
  auto [it, inserted] = by_cu_.try_emplace(dwarf_dieoffset(cudie));
  std::vector<Range>& ranges = it->second;
  if (inserted) {
    std::vector<Dwarf_Off> imported;
    collect(cudie, 0, &imported, &ranges);
    std::sort(ranges.begin(), ranges.end(),
              [](const Range& a, const Range& b) { return a.low < b.low; });
  }
  auto after = std::upper_bound(ranges.begin(), ranges.end(), pc,
                                [](Dwarf_Addr a, const Range& r) { return a < r.low; });
  // Top-level functions do not overlap in sane DWARF; a few steps back cover the odd case of a
  // scope nested in another's range without letting corrupt input make this linear.
  for (int steps = 0; steps < 8 && after != ranges.begin(); ++steps) {
    --after;
    if (pc < after->high) {
      *scope = after->die;
      return true;
    }
  }
  return false;
}

}  // namespace leakprobe::symbolize::detail
