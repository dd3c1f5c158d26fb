// Allocation wrappers found in the stacks, named or not. A library that routes every
// allocation through its own function (paho's unexported mymalloc, a program's static
// xmalloc) would otherwise be the site of every row, and --by function would add up the
// wrapper instead of the code that asked for memory. The built-in name list
// (is_allocator_function) and --fold cover the wrappers someone knew of; this finds the rest
// from the shape of the stacks alone, so it works on stripped binaries too.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "leakprobe/analysis/merge.h"
#include "leakprobe/analysis/symbols.h"

namespace leakprobe::analysis {

struct FoldedWrapper {
  std::string function;  // as symbolized: an unnamed function's label "<file>!fn@0x<start>"
  std::string module;    // path of its mapping
  bool unnamed = false;
  size_t callers = 0;  // distinct functions seen calling it
  size_t stacks = 0;   // stacks it sat directly above the allocator in
  // Empty for a wrapper; for a wrapper's own helper (called only from a folded wrapper, a few
  // rows up, such as the bookkeeping of a tracking allocator), that wrapper's function.
  std::string helper_of;
};

// A wrapper, as found here: a named (or labelled) function, not C/C++ runtime code, that sits
// directly above the allocator (past the rows already folded) in stacks with at least
// kMinCallers distinct calling functions, and calls the allocator from at most
// kMaxAllocatorCalls call instructions: a wrapper has one to three (paho's mymalloc allocates
// the block, its bookkeeping and a copy of the file name); a function that allocates at many
// places is code, not a wrapper. A function called with two or three callers stays a site:
// that is what a program's own helper looks like (keep_config in tests/stripped).
// A helper of a wrapper: a function above the allocator that, in every stack where it is,
// has a folded wrapper within a few rows up (its caller's caller...), such as the tree insert
// of a tracking allocator. Wrappers of wrappers and helpers are found in further rounds.
inline constexpr size_t kMinCallers = 3;
inline constexpr size_t kMaxAllocatorCalls = 4;

// Finds the wrappers over every stack of `profile`, marks them in `table` as allocator rows
// (SymbolTable::fold_function) and returns them, most stacks first.
std::vector<FoldedWrapper> fold_allocation_wrappers(const MergedProfile& profile,
                                                    SymbolTable& table);

}  // namespace leakprobe::analysis
