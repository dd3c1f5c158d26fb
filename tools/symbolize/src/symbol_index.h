// .symtab/.dynsym of one module, sorted once for binary search.
//
// dwfl_module_addrinfo scans the whole symbol table on every call; with tens of thousands of
// distinct return addresses in a stripped binary (Debian's mosquitto: only .dynsym) that scan
// was a third of heapdiff's run time on the 100k-stack benchmark.
#pragma once

#include <elfutils/libdwfl.h>

#include <cstdint>
#include <vector>

namespace leakprobe::symbolize::detail {

class SymbolIndex {
 public:
  // Reads every code symbol of `module` (defined FUNC, GNU_IFUNC or NOTYPE with a name).
  explicit SymbolIndex(Dwfl_Module* module);

  struct Match {
    const char* name = nullptr;  // owned by libdwfl, valid while the module lives
    uint64_t start = 0;          // address of the symbol, in dwfl's address space
    bool sized = false;          // its size is known and covers the address (not a bare label)
  };

  // The symbol whose [start, start+size) holds `address`; else the closest sizeless symbol
  // (an assembly label) below it, which the caller must check: it may belong to a neighbour.
  // name == nullptr if none.
  Match lookup(uint64_t address) const;

  size_t size() const { return symbols_.size(); }

 private:
  struct Symbol {
    uint64_t start;
    uint64_t size;  // 0 = unknown
    const char* name;
  };
  std::vector<Symbol> symbols_;  // sorted by start, one per start address
};

}  // namespace leakprobe::symbolize::detail
