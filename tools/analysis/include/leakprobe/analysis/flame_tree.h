// The call tree of a change, as the HTML report's flame graph draws it: root = all changes,
// then each stack from its outermost row down to the row that called the allocator. Width is
// |Δ live bytes| so growth and shrinkage are both visible; the net change and the objects ride
// along for colour and tooltip. Used by the HTML writer; public for its unit tests.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "leakprobe/analysis/changed_stacks.h"
#include "leakprobe/analysis/site_label.h"

namespace leakprobe::analysis {

struct FlameNode {
  int32_t row = -1;                // index into FlameTree::rows; -1 for the root and merged nodes
  int64_t width = 0;               // sum of |Δ live bytes| of the stacks through this node
  int64_t net_bytes = 0;           // sum of Δ live bytes
  int64_t net_objs = 0;            // sum of Δ live objects
  uint32_t stacks = 0;             // stacks through this node
  uint32_t merged = 0;             // > 0: stands for this many nodes too narrow to draw
  bool site = false;               // the row is the site of some stack through it
  std::vector<uint32_t> children;  // indexes into FlameTree::nodes, widest first
};

struct FlameTree {
  std::vector<Row> rows;         // distinct rows, by Row::label() and module
  std::vector<FlameNode> nodes;  // nodes[0] is the root
  size_t pruned = 0;             // nodes folded into "[N narrower calls]" nodes
};

// `min_share`: children narrower than this fraction of the root are merged into one node per
// parent, so that a 100k-stack change stays a page a browser opens in seconds (such nodes
// would be far below one pixel wide before zooming).
FlameTree build_flame_tree(const ChangedStacks& changes, double min_share);

// Writes the tree as compact JSON for the page's script: {"rows":[[short function, function,
// file:line, module+offset, inlined],...],"tree":{"r":row,"v":width,"b":net bytes,"o":net
// objects,"k":stacks,"m":merged,"s":1 if site,"c":[...]}}. '<', '>' and '&' are escaped so the
// text can sit inside a <script> element.
// The short function is frame_name(), as the report's tables name the same function.
void write_flame_json(std::ostream& out, const FlameTree& tree, const NamePrinter& name);

}  // namespace leakprobe::analysis
