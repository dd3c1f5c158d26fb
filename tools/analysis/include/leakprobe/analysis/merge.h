// Puts N snapshots on common ground: every return address becomes a (module, file offset)
// frame through its own snapshot's maps, so stacks from different runs (different ASLR
// bases) line up; identical normalised stacks are merged and get one Counts per snapshot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "leakprobe/analysis/snapshot.h"

namespace leakprobe::analysis {

struct Module {
  std::string path;      // as in MAPPED_LIBRARIES
  std::string build_id;  // from "# leakprobe.build-id:" of the first snapshot naming it
};

// A normalised frame. For an address inside a mapping, `module` indexes MergedProfile::modules
// and `offset` is the file offset of pc = return address - 1 (the call instruction, which is
// what symbolizers want). Outside every mapping, `module` is kNoModule and `offset` keeps the
// raw pc: nothing better is known, and it still merges within one process.
struct FrameKey {
  static constexpr int32_t kNoModule = -1;
  int32_t module = kNoModule;
  uint64_t offset = 0;
  friend bool operator==(const FrameKey& a, const FrameKey& b) {
    return a.module == b.module && a.offset == b.offset;
  }
};

struct MergedStack {
  std::vector<uint32_t> frames;  // indexes into MergedProfile::frames, leaf first
  std::vector<Counts> series;    // one per snapshot, zero where the stack is absent
  // The age of its live blocks in the last snapshot (the one reports describe), when that
  // snapshot has ages; absent there too if the stack is not in it.
  std::optional<AgeCounts> last_age;
  bool last_age_missing = false;  // the last snapshot has ages, but not for this stack's line
};

struct MergedProfile {
  size_t snapshot_count = 0;
  std::vector<Module> modules;
  std::vector<FrameKey> frames;
  // Per frame: the input's own name for it (pprof input, see NamedFrame), or nullptr. Points
  // into the snapshots, which outlive the profile.
  std::vector<const NamedFrame*> named;
  std::vector<MergedStack> stacks;
};

// A frame the input named itself is keyed by its synthetic address (derived from its names
// and lines, so it lines up across profiles) in the module of its mapping.
// Modules are matched by path (build-ids are recorded only by leakprobe, and a path match is
// what lets a leakprobe snapshot and its gperftools twin line up in tests).
MergedProfile merge_snapshots(const std::vector<const Snapshot*>& snapshots);

}  // namespace leakprobe::analysis
