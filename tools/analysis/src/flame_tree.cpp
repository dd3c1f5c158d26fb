#include "leakprobe/analysis/flame_tree.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "leakprobe/analysis/names.h"
#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {
namespace {

int64_t magnitude(int64_t v) { return v < 0 ? -v : v; }

size_t count_nodes(const FlameTree& t, uint32_t node) {
  size_t n = 1;
  for (uint32_t c : t.nodes[node].children) n += count_nodes(t, c);
  return n;
}

void prune(FlameTree& t, uint32_t node, int64_t min_width) {
  std::vector<uint32_t> kept;
  FlameNode merged;
  for (uint32_t c : t.nodes[node].children) {
    if (t.nodes[c].width >= min_width) {
      kept.push_back(c);
      continue;
    }
    t.pruned += count_nodes(t, c);
    const FlameNode& n = t.nodes[c];
    merged.width += n.width;
    merged.net_bytes += n.net_bytes;
    merged.net_objs += n.net_objs;
    merged.stacks += n.stacks;
    ++merged.merged;
  }
  for (uint32_t c : kept) prune(t, c, min_width);
  if (merged.merged > 0) {
    t.nodes.push_back(merged);
    kept.push_back(static_cast<uint32_t>(t.nodes.size() - 1));
  }
  t.nodes[node].children = std::move(kept);
}

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

void put_node(std::ostream& out, const FlameTree& t, uint32_t index) {
  const FlameNode& n = t.nodes[index];
  out << "{\"r\":" << n.row << ",\"v\":" << n.width << ",\"b\":" << n.net_bytes
      << ",\"o\":" << n.net_objs << ",\"k\":" << n.stacks;
  if (n.merged > 0) out << ",\"m\":" << n.merged;
  if (n.site) out << ",\"s\":1";
  if (!n.children.empty()) {
    out << ",\"c\":[";
    for (size_t i = 0; i < n.children.size(); ++i) {
      if (i > 0) out << ',';
      put_node(out, t, n.children[i]);
    }
    out << ']';
  }
  out << '}';
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

  std::unordered_map<uint64_t, uint32_t> child_of;  // (parent << 32 | row) -> node
  std::vector<int32_t> path;
  for (const ChangedStack& s : changes.stacks) {
    if (s.delta.live_bytes == 0) continue;  // no width: nothing to draw
    path.clear();                           // innermost first, as the stack is stored
    for (size_t i = 0; i < s.frames.size(); ++i) {
      const std::vector<int32_t>& ids = rows_of(s.frames[i]);
      for (size_t k = i == 0 ? s.skip_rows : 0; k < ids.size(); ++k) path.push_back(ids[k]);
    }
    const int64_t width = magnitude(s.delta.live_bytes);
    auto account = [&](FlameNode& n) {
      n.width += width;
      n.net_bytes += s.delta.live_bytes;
      n.net_objs += s.delta.live_objs;
      ++n.stacks;
    };
    account(t.nodes[0]);
    uint32_t node = 0;
    for (size_t i = path.size(); i-- > 0;) {
      const uint64_t key = (static_cast<uint64_t>(node) << 32) | static_cast<uint32_t>(path[i]);
      auto [it, inserted] = child_of.emplace(key, static_cast<uint32_t>(t.nodes.size()));
      if (inserted) {
        t.nodes[node].children.push_back(it->second);
        t.nodes.emplace_back();
        t.nodes.back().row = path[i];
      }
      node = it->second;
      account(t.nodes[node]);
      if (i == s.site_row) t.nodes[node].site = true;
    }
  }
  for (FlameNode& n : t.nodes) {
    std::sort(n.children.begin(), n.children.end(), [&](uint32_t a, uint32_t b) {
      if (t.nodes[a].width != t.nodes[b].width) return t.nodes[a].width > t.nodes[b].width;
      return a < b;
    });
  }
  const auto min_width = static_cast<int64_t>(static_cast<double>(t.nodes[0].width) * min_share);
  if (min_width > 0) prune(t, 0, min_width);
  return t;
}

void write_flame_json(std::ostream& out, const FlameTree& t) {
  out << "{\"rows\":[";
  for (size_t i = 0; i < t.rows.size(); ++i) {
    const Row& r = t.rows[i];
    if (i > 0) out << ',';
    out << '[';
    if (r.function.empty()) {
      const size_t slash = r.module.rfind('/');
      put_string(out, (slash == std::string::npos ? r.module : r.module.substr(slash + 1)) + "+" +
                          format_hex(r.offset));
      out << ",\"\"";
    } else {
      put_string(out, short_function_name(r.function));
      out << ',';
      put_string(out, r.function);
    }
    out << ',';
    put_string(out, r.file.empty() ? std::string() : r.file + ":" + std::to_string(r.line));
    out << ',';
    put_string(out, r.module + "+" + format_hex(r.offset));
    out << ',' << (r.inlined ? 1 : 0) << ']';
  }
  out << "],\"pruned\":" << t.pruned << ",\"tree\":";
  put_node(out, t, 0);
  out << '}';
}

}  // namespace leakprobe::analysis
