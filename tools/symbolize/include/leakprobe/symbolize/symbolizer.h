// Offline symbolizer: (module as mapped in a snapshot, file offset) -> source-level frames.
//
// Works from the paths recorded in a snapshot's MAPPED_LIBRARIES, long after the process is
// gone, possibly on another machine (hence `sysroot` and `debug_dirs`). Backed by elfutils
// libdwfl: DWARF for function/file:line/inlines, .symtab/.dynsym when there is no DWARF.
// The interface is agreed with the analysis library (tools/analysis); do not change it alone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace leakprobe::symbolize {

struct ModuleRef {     // one ELF object as mapped in the snapshot's process
  std::string path;    // as in MAPPED_LIBRARIES (may not exist on this machine)
  std::string build_id;  // lowercase hex from "# leakprobe.build-id:", empty if unknown
};

struct Frame {             // one source-level frame; an address can yield several (inlining)
  std::string function;    // demangled; empty if unknown
  std::string file;        // source file, empty if unknown
  int line = 0;            // 0 if unknown
  bool inlined = false;    // true for frames inlined into the next (outer) one
};

struct Options {
  std::vector<std::string> debug_dirs;  // searched for separate debug info (also .build-id/)
  std::string sysroot;                  // prefixed to every module path
};

class Symbolizer {
 public:
  explicit Symbolizer(Options options = {});
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // `file_offset` = pc - mapping.start + mapping.file_offset, where pc is the address to look
  // up (callers pass return_address - 1, as pprof does). Returns frames innermost first; empty
  // if nothing is known (caller then prints module+offset). Never throws, never crashes on bad
  // ELF. Results are cached per (module, offset).
  std::vector<Frame> symbolize(const ModuleRef& module, uint64_t file_offset);

  // Human-readable warnings gathered so far, each once: missing file, build-id mismatch, no
  // symbols/debug info for a module. Clears the list.
  std::vector<std::string> take_warnings();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace leakprobe::symbolize
