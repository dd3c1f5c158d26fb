#include "leakprobe/analysis/flame_tree.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "leakprobe/analysis/site.h"
#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {
namespace {

int64_t magnitude(int64_t v) { return v < 0 ? -v : v; }

void put_string(std::ostream& out, const std::string& s) {
  out << '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out << '\\' << static_cast<char>(c);
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      // '<' escaped so that "</script>" in a name cannot end the element holding the JSON.
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out << buf;
    } else {
      out << static_cast<char>(c);
    }
  }
  out << '"';
}

// Iterative: a tree is as deep as the deepest stack, and a hostile profile's one 300k-frame
// stack overflowed the call stack when this recursed. `todo` holds, per open node, the next
// child to write.
void put_node(std::ostream& out, const FlameTree& t, uint32_t root) {
  struct Open {
    uint32_t node;
    size_t next_child;
  };
  auto open_node = [&](uint32_t index) {
    const FlameNode& n = t.nodes[index];
    out << "{\"r\":" << n.row << ",\"v\":" << n.width << ",\"b\":" << n.net_bytes
        << ",\"o\":" << n.net_objs << ",\"k\":" << n.stacks;
    if (n.merged > 0) out << ",\"m\":" << n.merged;
    if (n.site) out << ",\"s\":1";
    if (!n.children.empty()) out << ",\"c\":[";
  };
  std::vector<Open> todo;
  open_node(root);
  todo.push_back({root, 0});
  while (!todo.empty()) {
    Open& top = todo.back();
    const FlameNode& n = t.nodes[top.node];
    if (top.next_child < n.children.size()) {
      if (top.next_child > 0) out << ',';
      const uint32_t child = n.children[top.next_child++];
      open_node(child);
      todo.push_back({child, 0});  // `top` is not used past this point
      continue;
    }
    if (!n.children.empty()) out << ']';
    out << '}';
    todo.pop_back();
  }
}

}  // namespace

FlameTree build_flame_tree(const ChangedStacks& changes, double min_share) {
  FlameTree t;
  t.nodes.emplace_back();

  // Row ids per frame, computed once: a frame appears in many stacks.
  std::vector<std::vector<int32_t>> frame_rows(changes.frames.size());
  std::unordered_map<std::string, int32_t> row_of_key;
  auto rows_of = [&](uint32_t f) -> const std::vector<int32_t>& {
    std::vector<int32_t>& ids = frame_rows[f];
    if (ids.empty()) {
      for (const Row& r : changes.frames[f].rows) {
        // The module keeps two unsymbolized rows of different modules apart.
        auto [it, inserted] =
            row_of_key.emplace(r.label() + '\n' + r.module, static_cast<int32_t>(t.rows.size()));
        if (inserted) t.rows.push_back(r);
        ids.push_back(it->second);
      }
    }
    return ids;
  };

  // Each drawn stack as its path of row ids, outermost first, in one flat array.
  struct Path {
    size_t begin = 0, size = 0;
    size_t site = 0;  // position of the site in the path
    const ChangedStack* stack = nullptr;
  };
  std::vector<int32_t> rows;
  std::vector<Path> paths;
  int64_t total = 0;
  for (const ChangedStack& s : changes.stacks) {
    if (s.delta.live_bytes == 0) continue;  // no width: nothing to draw
    Path p;
    p.begin = rows.size();
    for (size_t i = s.frames.size(); i-- > 0;) {
      const std::vector<int32_t>& ids = rows_of(s.frames[i]);
      const size_t first = i == 0 ? s.skip_rows : 0;
      for (size_t k = ids.size(); k-- > first;) rows.push_back(ids[k]);
    }
    p.size = rows.size() - p.begin;
    p.site = p.size - 1 - std::min<size_t>(s.site_row, p.size - 1);
    p.stack = &s;
    total += magnitude(s.delta.live_bytes);
    paths.push_back(p);
  }
  const auto min_width = static_cast<int64_t>(static_cast<double>(total) * min_share);

  // Sorted, stacks that share a prefix are neighbours, so the tree is built in one sweep like
  // a trie from sorted words, without a map from (parent, row) to child. A subtree is complete
  // when the sweep leaves its prefix: if it is too narrow it is dropped right then (it is the
  // tail of `nodes`, created depth first) and summed into its parent's "narrower calls" node,
  // so a 100k-stack change never holds more than the nodes it keeps.
  auto path_less = [&rows](const Path& a, const Path& b) {
    return std::lexicographical_compare(
        rows.begin() + static_cast<std::ptrdiff_t>(a.begin),
        rows.begin() + static_cast<std::ptrdiff_t>(a.begin + a.size),
        rows.begin() + static_cast<std::ptrdiff_t>(b.begin),
        rows.begin() + static_cast<std::ptrdiff_t>(b.begin + b.size));
  };
  std::sort(paths.begin(), paths.end(), path_less);

  std::vector<uint32_t> open = {0};  // open[d]: node at depth d of the current path
  std::vector<FlameNode> narrow(1);  // narrow[d]: merged narrow children of open[d]
  auto add = [](FlameNode& n, const FlameNode& c) {
    n.width += c.width;
    n.net_bytes += c.net_bytes;
    n.net_objs += c.net_objs;
    n.stacks += c.stacks;
  };
  auto close_deepest = [&] {
    const uint32_t node = open.back();
    open.pop_back();
    FlameNode merged = std::move(narrow.back());
    narrow.pop_back();
    if (merged.merged > 0) {
      t.nodes[node].children.push_back(static_cast<uint32_t>(t.nodes.size()));
      t.nodes.push_back(std::move(merged));
    }
    if (t.nodes[node].width >= min_width) return;
    // Too narrow to draw: its subtree is everything created since it, at the end of `nodes`:
    // its own narrower-calls node at most, since its children were narrower still and went
    // the same way (each counted then).
    ++t.pruned;
    FlameNode& into = narrow.back();
    add(into, t.nodes[node]);
    ++into.merged;
    t.nodes[open.back()].children.pop_back();  // it was its parent's last child
    t.nodes.resize(node);
  };

  const Path* previous = nullptr;
  for (const Path& p : paths) {
    size_t common = 0;
    if (previous != nullptr) {
      const size_t n = std::min(previous->size, p.size);
      while (common < n && rows[previous->begin + common] == rows[p.begin + common]) ++common;
    }
    while (open.size() > common + 1) close_deepest();
    for (size_t d = common; d < p.size; ++d) {
      t.nodes[open.back()].children.push_back(static_cast<uint32_t>(t.nodes.size()));
      open.push_back(static_cast<uint32_t>(t.nodes.size()));
      narrow.emplace_back();
      t.nodes.emplace_back();
      t.nodes.back().row = rows[p.begin + d];
    }
    FlameNode change;
    change.width = magnitude(p.stack->delta.live_bytes);
    change.net_bytes = p.stack->delta.live_bytes;
    change.net_objs = p.stack->delta.live_objs;
    change.stacks = 1;
    for (uint32_t node : open) add(t.nodes[node], change);
    t.nodes[open[p.site + 1]].site = true;
    previous = &p;
  }
  while (open.size() > 1) close_deepest();
  if (narrow.front().merged > 0) {  // the root's own narrow children
    t.nodes[0].children.push_back(static_cast<uint32_t>(t.nodes.size()));
    t.nodes.push_back(std::move(narrow.front()));
  }

  for (FlameNode& n : t.nodes) {
    std::sort(n.children.begin(), n.children.end(), [&](uint32_t a, uint32_t b) {
      if (t.nodes[a].width != t.nodes[b].width) return t.nodes[a].width > t.nodes[b].width;
      return a < b;
    });
  }
  return t;
}

void write_flame_json(std::ostream& out, const FlameTree& t, const NamePrinter& name) {
  out << "{\"rows\":[";
  for (size_t i = 0; i < t.rows.size(); ++i) {
    const Row& r = t.rows[i];
    if (i > 0) out << ',';
    out << '[';
    put_string(out, frame_name(r, name));
    out << ',';
    put_string(out, r.function);
    out << ',';
    put_string(out, r.file.empty() ? std::string() : r.file + ":" + std::to_string(r.line));
    out << ',';
    put_string(out, module_offset(r.module, r.offset, true));
    out << ',' << (r.inlined ? 1 : 0) << ']';
  }
  out << "],\"pruned\":" << t.pruned << ",\"tree\":";
  put_node(out, t, 0);
  out << '}';
}

}  // namespace leakprobe::analysis
