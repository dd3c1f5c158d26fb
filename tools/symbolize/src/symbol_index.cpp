#include "symbol_index.h"

#include <gelf.h>

#include <algorithm>
#include <tuple>

namespace leakprobe::symbolize::detail {

namespace {

// Several names often share one address (malloc, __libc_malloc, __malloc). Keep the one a
// reader expects: sized over sizeless, then global over weak over local.
int rank(const GElf_Sym& sym) {
  int binding = GELF_ST_BIND(sym.st_info);
  int by_binding = binding == STB_GLOBAL ? 0 : binding == STB_WEAK ? 1 : 2;
  return (sym.st_size == 0 ? 10 : 0) + by_binding;
}

}  // namespace

SymbolIndex::SymbolIndex(Dwfl_Module* module) {
  int count = dwfl_module_getsymtab(module);
  struct Candidate {
    uint64_t start;
    int rank;
    uint64_t size;
    const char* name;
  };
  std::vector<Candidate> candidates;
  candidates.reserve(count > 0 ? static_cast<size_t>(count) : 0);
  for (int i = 1; i < count; ++i) {
    GElf_Sym sym;
    GElf_Addr address = 0;
    GElf_Word shndx = 0;
    const char* name = dwfl_module_getsym_info(module, i, &sym, &address, &shndx, nullptr, nullptr);
    if (name == nullptr || name[0] == '\0' || sym.st_shndx == SHN_UNDEF) continue;
    int type = GELF_ST_TYPE(sym.st_info);
    if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE) continue;
    candidates.push_back({address, rank(sym), sym.st_size, name});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.start, a.rank) < std::tie(b.start, b.rank);
  });
  symbols_.reserve(candidates.size());
  for (const Candidate& c : candidates) {
    if (!symbols_.empty() && symbols_.back().start == c.start) continue;  // best one kept
    symbols_.push_back({c.start, c.size, c.name});
  }
}

SymbolIndex::Match SymbolIndex::lookup(uint64_t address) const {
  auto after = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                                [](uint64_t a, const Symbol& s) { return a < s.start; });
  if (after == symbols_.begin()) return {};
  auto below = after - 1;
  if (below->size == 0) return {below->name, below->start, false};
  if (address - below->start < below->size) return {below->name, below->start, true};
  // The nearest symbol below ends before `address`: a symbol nested in a larger one (local
  // labels with sizes inside a function) can hide the enclosing function. Look a little
  // further back; beyond that the address is in a gap between functions.
  for (int steps = 0; steps < 8 && below != symbols_.begin(); ++steps) {
    --below;
    if (below->size != 0 && address - below->start < below->size) {
      return {below->name, below->start, true};
    }
  }
  return {};
}

}  // namespace leakprobe::symbolize::detail
