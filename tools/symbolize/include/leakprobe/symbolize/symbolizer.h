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

struct ModuleRef {       // one ELF object as mapped in the snapshot's process
  std::string path;      // as in MAPPED_LIBRARIES (may not exist on this machine)
  std::string build_id;  // lowercase hex from "# leakprobe.build-id:", empty if unknown
};

struct Frame {           // one source-level frame; an address can yield several (inlining)
  std::string function;  // demangled; empty if unknown
  std::string file;      // source file, empty if unknown
  int line = 0;          // 0 if unknown
  bool inlined = false;  // true for frames inlined into the next (outer) one
  // No name anywhere (a static function of a stripped binary): `function` is the label
  // "<module file name>!fn@0x<start>", start = the function's link-time address from its
  // .eh_frame FDE, the same for every address inside that function.
  bool unnamed = false;
};

// Something the symbolizer could not do for a module, as a value: callers merge and render
// warnings by kind (heapdiff lists all modules without debug info on one line), never by
// their wording.
struct Warning {
  enum class Kind {
    kUnreadable,       // the file could not be opened as ELF; `reason` says why
    kBuildIdMismatch,  // the file is another build than the snapshot's process mapped
    kNoDebugInfo,      // symbols but no DWARF: function names only, no file:line
    kNoSymbols,        // neither: frames stay module+offset
  };
  Kind kind = Kind::kUnreadable;
  std::string path;               // the file looked at (sysroot applied, " (deleted)" removed)
  std::string reason;             // kUnreadable
  std::string snapshot_build_id;  // kBuildIdMismatch: as recorded in the snapshot
  std::string file_build_id;      // kBuildIdMismatch: of the file found, empty if it has none
};

// The warning as one line for people, e.g. "no debug info for /usr/lib/x.so: function names
// only, no file:line".
std::string message(const Warning& warning);

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

  // Warnings gathered so far, each once per module: unreadable file, build-id mismatch, no
  // symbols/debug info. Clears the list.
  std::vector<Warning> take_warnings();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace leakprobe::symbolize
