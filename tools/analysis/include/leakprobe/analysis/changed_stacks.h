// Every call stack whose live memory changed, with all of its frames symbolized: what the
// writers need that draw the whole call tree of the change instead of the ranked entries
// (heapdiff --html's flame graph, --pprof's profile). analyze() fills it only when
// Options::keep_changed_stacks is set, because it symbolizes every frame of every changed
// stack, not only the frames of the listed entries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "leakprobe/analysis/snapshot.h"
#include "leakprobe/analysis/symbols.h"

namespace leakprobe::analysis {

// One normalised frame (a return address as module + file offset) and its source rows.
struct ChangedFrame {
  std::string module;     // mapping path; "[unknown]" outside every mapping
  std::string build_id;   // lowercase hex, empty when the snapshots did not record one
  bool in_module = true;  // false: `offset` is the raw pc (outside every mapping)
  uint64_t offset = 0;    // file offset of the call (pc - 1), as Row::offset
  std::vector<Row> rows;  // innermost first: inlined rows come before their caller
};

struct ChangedStack {
  // Indexes into ChangedStacks::frames, leaf first. Frames whose rows are all allocator rows
  // (malloc, operator new, --fold) are left out, as in the text report.
  std::vector<uint32_t> frames;
  uint32_t skip_rows = 0;  // leading rows of frames[0] that still belong to the allocator
  uint32_t site_row = 0;   // the site, counted in rows from the first row kept
  Counts delta;            // last snapshot minus first
  // The age of its live blocks in the last snapshot, when that snapshot says (--pprof labels).
  std::optional<AgeCounts> age;
};

struct ChangedStacks {
  std::vector<ChangedFrame> frames;
  std::vector<ChangedStack> stacks;  // in merge order (deterministic for given inputs)
};

// Builds ChangedStacks while analyze() walks the merged profile.
class ChangedStackCollector {
 public:
  ChangedStackCollector(const MergedProfile& profile, const SymbolTable& table);

  // `folded` and `site` are rows as SymbolTable::folded_rows / site_rows count them.
  void add(const MergedStack& stack, size_t folded, size_t site, const Counts& delta);

  ChangedStacks take() { return std::move(out_); }

 private:
  uint32_t frame_index(uint32_t profile_frame);

  const MergedProfile& profile_;
  const SymbolTable& table_;
  std::vector<int64_t> index_;  // profile frame -> index in out_.frames, -1 if not yet there
  ChangedStacks out_;
};

}  // namespace leakprobe::analysis
