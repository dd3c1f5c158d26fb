// What heapdiff tells the user beside the report, decided by the analysis as values. The
// writers render them (report.h: warning_text); nothing merges or matches them by their
// wording. A broker maps a dozen libraries without debug info, and a dozen near-identical
// lines would bury the one that matters (a build-id mismatch), so those are merged by kind.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "leakprobe/symbolize/symbolizer.h"

namespace leakprobe::analysis {

struct Warning {
  enum class Kind {
    kReordered,           // a note: the snapshots were taken in leakprobe.time order, not
                          // the order given; `subjects`: the file names in that order
    kExitLeftOut,         // a note: subjects[0], the exit snapshot that ended a trend, was left
                          // out (the program frees at shutdown what it still referenced)
    kExitSnapshot,        // subjects[0]: the new snapshot of a diff is an exit snapshot
    kOneSnapshot,         // a note: subjects[0], the only snapshot given, is shown against
                          // nothing: every entry's growth is what is live in it
    kDifferentProcesses,  // a note (--allow-different-processes): subjects, the snapshots;
                          // allocation counts ("between") are not shown
    kStacksCut,           // subjects[0]: a snapshot with `stacks` stacks cut at `depth` frames
    kForeignMalloc,       // subjects[0]: a snapshot whose program called the malloc of
                          // `reason` (a file before the probe in LD_PRELOAD): it saw nothing
    kModuleUnreadable,    // subjects[0]: a module file that could not be read; `reason`
    kBuildIdMismatch,     // subjects[0]: a module file of another build; the two build-ids
    kNoDebugInfo,         // subjects: module files with symbols but no debug info
    kNoSymbols,           // subjects: module files with neither
    // Interval problems (distrusts_interval): the snapshots cannot show the program's growth
    // over the interval compared, so heapdiff never says "no growth" over it and a gate
    // exits 2 instead of passing (docs/heapdiff.md, "Intervals that cannot be trusted").
    kRecordingOff,  // subjects[0]: the snapshot whose `recording` line shows recording was off
                    // for part of the interval; subjects[1]: the first snapshot; `reason`:
                    // its state ("off", "dormant", or "on" enabled after the first snapshot);
                    // `time`: since when
    kIncomplete,    // subjects: snapshots with the `incomplete` mark `reason`; `time`: the
                    // earliest since (if any said)
  };
  Kind kind = Kind::kReordered;
  std::vector<std::string> subjects;  // snapshot names or module paths, per kind
  std::string reason;                 // kModuleUnreadable
  std::string snapshot_build_id;      // kBuildIdMismatch
  std::string file_build_id;          // kBuildIdMismatch; empty: the file has none
  int64_t stacks = 0;                 // kStacksCut
  int64_t depth = 0;                  // kStacksCut
  std::optional<double> time;         // kRecordingOff, kIncomplete: unix seconds

  // The interval compared cannot be trusted: "no growth" and a passing gate would be wrong.
  bool distrusts_interval() const {
    return kind == Kind::kRecordingOff || kind == Kind::kIncomplete || kind == Kind::kForeignMalloc;
  }

  // Notes say how the input was read; warnings say the report may be less than it seems.
  bool is_note() const {
    return kind == Kind::kReordered || kind == Kind::kExitLeftOut ||
           kind == Kind::kDifferentProcesses || kind == Kind::kOneSnapshot;
  }
};

// A stable machine name for the kind ("recording-off", "no-debug-info"): JSON's "code".
const char* warning_code(Warning::Kind kind);

// Appends the symbolizer's warnings to `out`: one kNoDebugInfo and one kNoSymbols listing all
// their modules (each at the place of its first module), every other warning as it is.
void add_symbolizer_warnings(const std::vector<symbolize::Warning>& in, std::vector<Warning>& out);

}  // namespace leakprobe::analysis
