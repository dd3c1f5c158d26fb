// Address -> source-level frames (function, file:line, inline chain) inside one dwfl module.
#pragma once

#include <elfutils/libdwfl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "elf_module.h"
#include "leakprobe/symbolize/symbolizer.h"

namespace leakprobe::symbolize::detail {

// Frames for `address` (a dwfl address inside `elf`), innermost first: the inlined chain
// from DWARF when there is debug info, else the .symtab/.dynsym name, else for code in a
// function nobody named a label from the start of its FDE (Frame::unnamed). Empty if
// nothing is known.
std::vector<Frame> source_frames(ElfModule& elf, uint64_t address);

// "<module file name>!fn@0x<start>": the label of an unnamed function starting at link-time
// address `start` (docs/heapdiff.md, "Unnamed functions").
std::string unnamed_function_label(const std::string& module_name, uint64_t start);

// The demangled form of `name`, or `name` itself if it is not a mangled C++ name.
std::string demangle(const char* name);

}  // namespace leakprobe::symbolize::detail
