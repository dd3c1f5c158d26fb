// Turns normalised frames into source-level rows and folds the allocator away.
//
// The symbolizer is reached through a plain function so that tests can feed exact symbols and
// `--no-symbols` needs no ELF at all; heapdiff's main wires leakprobe::symbolize::Symbolizer in.
#pragma once

#include <cstdint>
#include <functional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "leakprobe/analysis/merge.h"
#include "leakprobe/symbolize/symbolizer.h"

namespace leakprobe::analysis {

using SymbolSource =
    std::function<std::vector<symbolize::Frame>(const symbolize::ModuleRef&, uint64_t file_offset)>;

// One printable line of a stack: a source-level frame (one address can give several because
// of inlining), or the bare module+offset when nothing is known.
struct Row {
  std::string function;  // empty if unknown
  std::string file;      // empty if unknown
  int line = 0;
  bool inlined = false;
  std::string module;   // path of the mapping, "[unknown]" outside every mapping
  uint64_t offset = 0;  // file offset of the call (pc - 1), or the raw pc for "[unknown]"
  // `function` is the label "<file>!fn@0x<start>" of a function without a name (a static
  // function of a stripped binary; symbolize::Frame::unnamed).
  bool unnamed = false;

  // "function file:line" when symbolized, else "module+0xoffset": the site label in reports.
  std::string label() const;
  // "function file:line module+0xoffset": what --focus, --ignore and --fold search.
  std::string match_text() const;
};

// Symbolized view of the frames of a MergedProfile. Frames are symbolized on first use: a
// broker's snapshot holds far more stacks than change between two snapshots, and only the
// frames of the stacks that are looked at need the symbolizer. Not thread-safe.
class SymbolTable {
 public:
  // `source` may be empty (--no-symbols): every frame then prints as module+offset.
  // `extra_fold`, if set, marks more frames as allocator frames (--fold: a program's own
  // wrappers such as xmalloc); it is searched in Row::match_text(). All arguments
  // must outlive the table.
  SymbolTable(const MergedProfile& profile, const SymbolSource& source,
              const std::regex* extra_fold = nullptr);

  // Rows of frame `frame_id`, innermost first; never empty.
  const std::vector<Row>& rows(uint32_t frame_id) const { return resolve(frame_id).rows; }

  // Number of leading rows of the stack that belong to the allocator or the profiler
  // (malloc family, operator new, std::allocator, strdup, libtcmalloc, libleakprobe, ...).
  // Never folds the whole stack: if every row is an allocator row, nothing is folded.
  size_t folded_rows(const std::vector<uint32_t>& stack) const;

  // Number of leading rows before the entry's site: the first row from `folded` on that is
  // the program's own code, not the C/C++ runtime (std:: functions, libstdc++, libc). A leak
  // through std::string::_M_assign is the fault of whoever assigned the string. If every row
  // from `folded` on is runtime code, the site is the first of them (returns `folded`).
  size_t site_rows(const std::vector<uint32_t>& stack, size_t folded) const;

  // The rows of `stack` with the first `skip` rows dropped.
  std::vector<Row> stack_rows(const std::vector<uint32_t>& stack, size_t skip) const;

  // From now on the rows of `function` in `module` are allocator rows (wrappers.h): folded
  // when they lead a stack, and never the site.
  void fold_function(const std::string& module, const std::string& function);

 private:
  struct Resolved {
    bool done = false;
    std::vector<Row> rows;
    std::vector<bool> allocator;  // per row
    std::vector<bool> runtime;    // per row: C/C++ runtime library code (never a site)
  };
  const Resolved& resolve(uint32_t frame_id) const;
  const Resolved& resolve_named(const NamedFrame& named, const std::string& module,
                                Resolved& out) const;
  bool extra_fold(const Row& row) const;
  bool folded_function(const Row& row) const;

  const MergedProfile& profile_;
  const SymbolSource& source_;
  const std::regex* extra_fold_;
  std::vector<std::pair<std::string, std::string>> folded_functions_;  // (module, function)
  mutable std::vector<Resolved> frames_;
};

// Exposed for unit tests: is this (demangled) function an allocator entry point or helper?
bool is_allocator_function(const std::string& function);
// Exposed for unit tests: does this module belong to an allocator or to the profiler itself?
bool is_allocator_module(const std::string& path);
// Exposed for unit tests: is this the C or C++ runtime (libc, libstdc++, libgcc_s, libc++)?
bool is_runtime_module(const std::string& path);
// Exposed for unit tests: is this (demangled) function part of the C++ standard library
// (std::, __gnu_cxx::, __cxxabiv1::, __cxa_*)? Return types are looked past.
bool is_runtime_function(const std::string& function);

}  // namespace leakprobe::analysis
