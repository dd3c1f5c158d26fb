// What heapdiff tells the user beside the report, decided by the analysis as values. The
// writers render them (report.h: warning_text); nothing merges or matches them by their
// wording. A broker maps a dozen libraries without debug info, and a dozen near-identical
// lines would bury the one that matters (a build-id mismatch), so those are merged by kind.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "leakprobe/symbolize/symbolizer.h"

namespace leakprobe::analysis {

struct Warning {
  enum class Kind {
    kReordered,         // a note: trend mode took the snapshots in leakprobe.time order;
                        // `subjects`: the file names in that order
    kStacksCut,         // subjects[0]: a snapshot with `stacks` stacks cut at `depth` frames
    kForeignMalloc,     // subjects[0]: a snapshot whose program called the malloc of
                        // `reason` (a file before the probe in LD_PRELOAD): it saw nothing
    kModuleUnreadable,  // subjects[0]: a module file that could not be read; `reason`
    kBuildIdMismatch,   // subjects[0]: a module file of another build; the two build-ids
    kNoDebugInfo,       // subjects: module files with symbols but no debug info
    kNoSymbols,         // subjects: module files with neither
  };
  Kind kind = Kind::kReordered;
  std::vector<std::string> subjects;  // snapshot names or module paths, per kind
  std::string reason;                 // kModuleUnreadable
  std::string snapshot_build_id;      // kBuildIdMismatch
  std::string file_build_id;          // kBuildIdMismatch; empty: the file has none
  int64_t stacks = 0;                 // kStacksCut
  int64_t depth = 0;                  // kStacksCut

  // Notes say how the input was read; warnings say the report may be less than it seems.
  bool is_note() const { return kind == Kind::kReordered; }
};

// Appends the symbolizer's warnings to `out`: one kNoDebugInfo and one kNoSymbols listing all
// their modules (each at the place of its first module), every other warning as it is.
void add_symbolizer_warnings(const std::vector<symbolize::Warning>& in, std::vector<Warning>& out);

}  // namespace leakprobe::analysis
