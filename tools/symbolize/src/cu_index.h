// Per module: each compilation unit's top-level code scopes (functions, with their address
// ranges), collected on the first lookup in that CU and binary-searched afterwards.
//
// Without it every address costs a walk over all top-level DIEs of its CU (types, variables,
// declarations, then functions); a server's stacks hit the same CUs again and again.
#pragma once

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace leakprobe::symbolize::detail {

// DIEs that own code addresses and can nest further scopes (functions, inlined calls, blocks).
inline bool is_code_scope(int tag) {
  switch (tag) {
    case DW_TAG_subprogram:
    case DW_TAG_inlined_subroutine:
    case DW_TAG_lexical_block:
    case DW_TAG_entry_point:
    case DW_TAG_try_block:
    case DW_TAG_catch_block:
    case DW_TAG_with_stmt:
    case DW_TAG_module:
      return true;
    default:
      return false;
  }
}

class CuIndex {
 public:
  // The top-level code scope of `cudie` (a function, possibly inside namespaces, classes or
  // imported units) whose ranges hold `pc` (a DWARF address, bias removed). False if none.
  bool find(Dwarf_Die* cudie, Dwarf_Addr pc, Dwarf_Die* scope);

 private:
  struct Range {
    Dwarf_Addr low;
    Dwarf_Addr high;  // exclusive
    Dwarf_Die die;
  };
  std::unordered_map<Dwarf_Off, std::vector<Range>> by_cu_;  // sorted by low
};

}  // namespace leakprobe::symbolize::detail
