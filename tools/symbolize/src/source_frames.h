// Address -> source-level frames (function, file:line, inline chain) inside one dwfl module.
#pragma once

#include <elfutils/libdwfl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "leakprobe/symbolize/symbolizer.h"
#include "cu_index.h"
#include "symbol_index.h"

namespace leakprobe::symbolize::detail {

// Frames for `address` (a dwfl address inside `module`), innermost first: the inlined chain
// from DWARF when there is debug info (functions located through `cu_index`, the module's
// memo), else the .symtab/.dynsym name from `symbols`. Empty if nothing is known.
std::vector<Frame> source_frames(Dwfl_Module* module, CuIndex* cu_index,
                                 const SymbolIndex& symbols, uint64_t address);

// The demangled form of `name`, or `name` itself if it is not a mangled C++ name.
std::string demangle(const char* name);

}  // namespace leakprobe::symbolize::detail
