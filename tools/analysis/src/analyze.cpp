#include "leakprobe/analysis/analysis.h"

#include <algorithm>
#include <unordered_map>

#include "leakprobe/analysis/merge.h"

namespace leakprobe::analysis {
namespace {

// Compiled once; std::regex is slow, so matches are cached per normalised frame.
struct FrameFilter {
  std::optional<std::regex> re;
  std::vector<int8_t> cache;  // -1 unknown, 0 no, 1 yes

  bool frame_matches(const SymbolTable& table, uint32_t f) {
    int8_t& c = cache[f];
    if (c < 0) {
      c = 0;
      for (const Row& r : table.rows(f)) {
        const std::string text =
            r.function + " " + r.file + ":" + std::to_string(r.line) + " " + r.module;
        if (std::regex_search(text, *re)) {
          c = 1;
          break;
        }
      }
    }
    return c == 1;
  }
  // Frames from `first` on (the allocator-folded frames before it do not count).
  bool stack_matches(const SymbolTable& table, const std::vector<uint32_t>& stack, size_t first) {
    for (size_t i = first; i < stack.size(); ++i) {
      if (frame_matches(table, stack[i])) return true;
    }
    return false;
  }
};

std::optional<Error> compile(const std::string& pattern, const char* option, size_t frames,
                             FrameFilter& out) {
  if (pattern.empty()) return std::nullopt;
  try {
    out.re.emplace(pattern, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return Error{std::string("invalid ") + option + " regular expression '" + pattern +
                 "': " + e.what()};
  }
  out.cache.assign(frames, -1);
  return std::nullopt;
}

int64_t metric(const Counts& c, SortKey key) {
  return key == SortKey::kBytes ? c.live_bytes : c.live_objs;
}

int trend_rank(Trend t) {
  switch (t) {
    case Trend::kGrowing:
      return 0;
    case Trend::kPlateau:
      return 1;
    case Trend::kNoise:
      return 2;
    case Trend::kStable:
      return 3;
  }
  return 3;
}

struct Group {
  Entry entry;
  uint32_t representative = 0;
  int64_t representative_growth = 0;
  size_t representative_fold = 0;
};

}  // namespace

Result<Analysis> analyze(const std::vector<const Snapshot*>& snapshots,
                         const SymbolSource& symbols, const Options& options) {
  Analysis out;
  out.trend_mode = snapshots.size() >= 3;
  for (const Snapshot* s : snapshots) {
    out.inputs.push_back(InputInfo{s->name, s->flavour, s->sampling, s->pid, s->time, s->sequence,
                                   s->trigger, s->program(), s->stacks.size(), s->totals});
  }
  if (snapshots.empty()) return out;

  const MergedProfile profile = merge_snapshots(snapshots);
  const SymbolTable table(profile, symbols);
  out.stacks_total = profile.stacks.size();

  FrameFilter focus, ignore;
  if (auto e = compile(options.focus, "--focus", profile.frames.size(), focus)) return *e;
  if (auto e = compile(options.ignore, "--ignore", profile.frames.size(), ignore)) return *e;

  const size_t n = snapshots.size();
  out.totals.assign(n, Counts{});
  std::vector<Group> groups;
  std::unordered_map<std::string, size_t> group_of_key;

  for (uint32_t sid = 0; sid < profile.stacks.size(); ++sid) {
    const MergedStack& stack = profile.stacks[sid];
    const size_t fold = table.folded_rows(stack.frames);
    // Locate the first unfolded row: frame index and row within it.
    size_t frame_index = 0;
    size_t row_index = fold;
    while (frame_index < stack.frames.size() &&
           row_index >= table.rows(stack.frames[frame_index]).size()) {
      row_index -= table.rows(stack.frames[frame_index]).size();
      ++frame_index;
    }
    if (focus.re && !focus.stack_matches(table, stack.frames, frame_index)) {
      ++out.stacks_filtered_out;
      continue;
    }
    if (ignore.re && ignore.stack_matches(table, stack.frames, frame_index)) {
      ++out.stacks_filtered_out;
      continue;
    }
    Row site;
    if (frame_index < stack.frames.size()) {
      site = table.rows(stack.frames[frame_index])[row_index];
    } else {
      site.module = "[no frames]";
    }

    for (size_t i = 0; i < n; ++i) out.totals[i] += stack.series[i];
    const Counts d = stack.series.back() - stack.series.front();
    if (d.live_bytes > 0) out.growth_bytes += d.live_bytes;
    if (d.live_objs > 0) out.growth_objs += d.live_objs;

    std::string key;
    switch (options.by) {
      case GroupBy::kStack:
        key = "#" + std::to_string(sid);  // stacks are their own group; label set below
        break;
      case GroupBy::kFunction:
        key = site.function.empty() ? site.label() : site.function;
        break;
      case GroupBy::kLine:
        key = site.label();
        break;
    }
    auto [it, inserted] = group_of_key.emplace(key, groups.size());
    if (inserted) {
      Group g;
      g.entry.key = options.by == GroupBy::kStack ? site.label() : key;
      g.entry.series.assign(n, Counts{});
      g.entry.site = site;
      g.representative = sid;
      g.representative_growth = metric(d, options.sort);
      g.representative_fold = fold;
      groups.push_back(std::move(g));
    }
    Group& g = groups[it->second];
    for (size_t i = 0; i < n; ++i) g.entry.series[i] += stack.series[i];
    ++g.entry.stacks;
    if (!inserted && metric(d, options.sort) > g.representative_growth) {
      g.representative = sid;
      g.representative_growth = metric(d, options.sort);
      g.representative_fold = fold;
      g.entry.site = site;
    }
  }

  // Keep what changed (live size or count moved in some interval) and is large enough.
  std::vector<Group> listed;
  for (Group& g : groups) {
    const auto& s = g.entry.series;
    bool moved = false;
    for (size_t i = 1; i < n; ++i) {
      moved = moved || s[i].live_bytes != s[i - 1].live_bytes ||
              s[i].live_objs != s[i - 1].live_objs;
    }
    if (!moved) continue;
    const int64_t db = g.entry.delta().live_bytes;
    if ((db < 0 ? -db : db) < options.min_bytes) continue;
    if (out.trend_mode) {
      std::vector<int64_t> series;
      for (const Counts& c : s) series.push_back(metric(c, options.sort));
      g.entry.trend = classify_trend(series);
    }
    listed.push_back(std::move(g));
  }
  out.changed = listed.size();

  const SortKey other = options.sort == SortKey::kBytes ? SortKey::kObjects : SortKey::kBytes;
  std::sort(listed.begin(), listed.end(), [&](const Group& a, const Group& b) {
    if (out.trend_mode && a.entry.trend != b.entry.trend) {
      return trend_rank(a.entry.trend) < trend_rank(b.entry.trend);
    }
    const Counts da = a.entry.delta();
    const Counts db = b.entry.delta();
    if (metric(da, options.sort) != metric(db, options.sort)) {
      return metric(da, options.sort) > metric(db, options.sort);
    }
    if (metric(da, other) != metric(db, other)) return metric(da, other) > metric(db, other);
    if (a.entry.key != b.entry.key) return a.entry.key < b.entry.key;
    return a.representative < b.representative;
  });
  if (options.top > 0 && listed.size() > options.top) listed.resize(options.top);

  for (Group& g : listed) {
    const MergedStack& rep = profile.stacks[g.representative];
    g.entry.frames = table.stack_rows(rep.frames, g.representative_fold);
    g.entry.folded = g.representative_fold;
    out.entries.push_back(std::move(g.entry));
  }
  return out;
}

}  // namespace leakprobe::analysis
