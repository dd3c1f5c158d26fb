#include <algorithm>
#include <unordered_map>
#include <utility>

#include "leakprobe/analysis/age.h"
#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/compat.h"
#include "leakprobe/analysis/interval.h"
#include "leakprobe/analysis/merge.h"
#include "leakprobe/analysis/ranking.h"

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
        if (std::regex_search(r.match_text(), *re)) {
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

// Did the live size or count change in some interval?
bool live_moved(const std::vector<Counts>& series) {
  for (size_t i = 1; i < series.size(); ++i) {
    if (series[i].live_bytes != series[i - 1].live_bytes ||
        series[i].live_objs != series[i - 1].live_objs) {
      return true;
    }
  }
  return false;
}

// The inputs in time order (two files given the wrong way round would read shrinkage as
// growth and pass a gate); says so when that is not the order given. An exit snapshot ending
// a trend is left out: the program has freed at shutdown what it still referenced, so every
// series would end at zero and a leak would read as noise.
std::vector<const Snapshot*> analysis_order(const std::vector<const Snapshot*>& given,
                                            std::vector<Warning>& warnings) {
  std::vector<const Snapshot*> by_time;
  for (size_t i : trend_order(given)) by_time.push_back(given[i]);
  if (by_time != given) {
    Warning w;
    w.kind = Warning::Kind::kReordered;
    for (const Snapshot* s : by_time) w.subjects.push_back(s->name);
    warnings.push_back(std::move(w));
  }
  auto is_exit = [](const Snapshot* s) { return s->trigger && *s->trigger == "exit"; };
  if (by_time.size() >= 3 && is_exit(by_time.back())) {
    Warning w;
    w.kind = Warning::Kind::kExitLeftOut;
    w.subjects.push_back(by_time.back()->name);
    warnings.push_back(std::move(w));
    by_time.pop_back();
  } else if (by_time.size() == 2 && is_exit(by_time.back())) {
    // Asked for explicitly: compared, with the reason its figures may hide growth.
    Warning w;
    w.kind = Warning::Kind::kExitSnapshot;
    w.subjects.push_back(by_time.back()->name);
    warnings.push_back(std::move(w));
  }
  return by_time;
}

// Light while 100k stacks stream through; strings are only built for the listed entries.
struct Group {
  std::vector<Counts> series;
  size_t stacks = 0;
  uint32_t representative = 0;
  int64_t representative_growth = 0;
  size_t representative_fold = 0;
  size_t representative_site = 0;  // rows between the folded ones and the site
  const Row* site = nullptr;       // nullptr: the stack has no frames
  Trend trend = Trend::kStable;
  UncertaintyBuilder uncertainty;  // sampled inputs
  AgeCounts age;                   // its stacks' in the last snapshot (MergedStack::last_age)
  bool age_missing = false;        // some stack of it has no age line there
  Counts delta() const { return series.back() - series.front(); }
};

// The first named function up `frames` from the site: who called the unnamed function.
std::string named_caller(const std::vector<Row>& frames, size_t site) {
  for (size_t i = site + 1; i < frames.size(); ++i) {
    if (!frames[i].function.empty() && !frames[i].unnamed) return frames[i].function;
  }
  return {};
}

bool same_row(const Row& a, const Row& b) {
  return a.module == b.module && a.offset == b.offset && a.function == b.function &&
         a.file == b.file && a.line == b.line && a.inlined == b.inlined;
}

// Listed entries that share a key would print the same site. Tell each apart by the offset of
// its call when that is its own, else by the first caller row in which its stack differs from
// every other entry with the same call.
void distinguish(std::vector<Entry>& entries) {
  std::unordered_map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < entries.size(); ++i) by_key[entries[i].key.text()].push_back(i);
  for (const auto& [key, members] : by_key) {
    if (members.size() < 2) continue;
    for (size_t i : members) {
      Entry& e = entries[i];
      if (e.key.kind == GroupKey::Kind::kAddress || e.key.kind == GroupKey::Kind::kNoFrames ||
          e.key.kind == GroupKey::Kind::kFunctionAddress) {
        continue;  // the key already is the offset
      }
      std::vector<const Entry*> twins;  // same call instruction
      bool offset_shared = false;
      for (size_t j : members) {
        if (j == i) continue;
        const Entry& o = entries[j];
        if (o.site.module == e.site.module && o.site.offset == e.site.offset) {
          offset_shared = true;
          twins.push_back(&o);
        }
      }
      if (!offset_shared) {
        e.distinction.kind = Distinction::Kind::kOffset;
        e.distinction.row = e.site;
        continue;
      }
      for (size_t depth = 1; e.site_frame + depth < e.frames.size(); ++depth) {
        const Row& mine = e.frames[e.site_frame + depth];
        bool unique = true, same_function = false;
        for (const Entry* o : twins) {
          const size_t at = o->site_frame + depth;
          if (at >= o->frames.size()) continue;
          if (same_row(o->frames[at], mine)) unique = false;
          if (o->frames[at].function == mine.function) same_function = true;
        }
        if (unique) {
          e.distinction.kind = Distinction::Kind::kCaller;
          e.distinction.row = mine;
          e.distinction.same_function = same_function;
          break;
        }
      }
    }
  }
}

}  // namespace

bool growth_exceeds(const Analysis& analysis, int64_t threshold) {
  return (analysis.counts_only() ? analysis.growth_objs : analysis.growth_bytes) > threshold;
}

Result<Analysis> analyze(const std::vector<const Snapshot*>& given_in, const SymbolSource& symbols,
                         const Options& requested, const SymbolWarnings& symbol_warnings) {
  Analysis out;
  // One snapshot (a peak snapshot, or the only file someone sent): it is compared with
  // nothing, so every entry is what is live in it, ranked, through the same pipeline and
  // writers as a diff.
  std::vector<const Snapshot*> given = given_in;
  Snapshot nothing;
  if (given.size() == 1) {
    nothing = nothing_before(*given.front());
    given.insert(given.begin(), &nothing);
    Warning w;
    w.kind = Warning::Kind::kOneSnapshot;
    w.subjects.push_back(given.back()->name);
    out.warnings.push_back(std::move(w));
  }
  out.one_snapshot = given_in.size() == 1;
  const std::vector<const Snapshot*> snapshots = analysis_order(given, out.warnings);
  if (auto e = check_compatible(snapshots)) return *e;
  if (auto e = check_same_process(snapshots, requested.allow_different_processes)) return *e;
  if (!snapshots.empty()) out.kind = snapshots.front()->kind;
  // Count profiles (goroutines) have no bytes: they rank, and their trends are classified, by
  // their count.
  Options options = requested;
  if (out.counts_only()) options.sort = SortKey::kObjects;
  out.options = options;
  out.trend_mode = snapshots.size() >= 3;
  // Sample counts are known for the legacy text formats, whose sampled stack lines hold the
  // raw counts (docs/snapshot-format.md); check_compatible made the rates equal.
  bool counted = !snapshots.empty() && is_sampled(snapshots.front()->sampling);
  for (const Snapshot* s : snapshots) {
    counted = counted && (s->flavour == Flavour::kLeakprobe || s->flavour == Flavour::kGperftools);
  }
  if (!snapshots.empty() && is_sampled(snapshots.front()->sampling)) {
    out.sampling = snapshots.front()->sampling;
    out.undetectable_below_bytes = undetectable_below_bytes(out.sampling);
  }
  for (const Snapshot* s : snapshots) {
    out.inputs.push_back(InputInfo{s->name, s->flavour, s->kind, s->sampling, s->pid, s->time,
                                   s->sequence, s->trigger, s->program(), s->stacks.size(),
                                   s->totals, s->attached});
    if (other_process(*snapshots.front(), *s) && out.same_process) {
      out.same_process = false;
      Warning w;
      w.kind = Warning::Kind::kDifferentProcesses;
      for (const Snapshot* t : snapshots) w.subjects.push_back(t->name);
      out.warnings.push_back(std::move(w));
    }
    if (s->truncated_stacks && *s->truncated_stacks > 0) {
      Warning w;
      w.kind = Warning::Kind::kStacksCut;
      w.subjects.push_back(s->name);
      w.stacks = *s->truncated_stacks;
      w.depth = s->depth.value_or(0);
      out.warnings.push_back(std::move(w));
    }
    if (s->foreign_malloc) {
      Warning w;
      w.kind = Warning::Kind::kForeignMalloc;
      w.subjects.push_back(s->name);
      w.reason = *s->foreign_malloc;
      out.warnings.push_back(std::move(w));
    }
  }
  check_interval(snapshots, out.warnings);
  if (snapshots.empty()) return out;

  out.age = age_availability(snapshots, out.one_snapshot, out.same_process);
  const MergedProfile profile = merge_snapshots(snapshots);
  out.stacks_total = profile.stacks.size();

  FrameFilter fold, focus, ignore;
  if (auto e = compile(options.fold, "--fold", 0, fold)) return *e;
  SymbolTable table(profile, symbols, fold.re ? &*fold.re : nullptr);
  if (options.fold_wrappers) out.folded_wrappers = fold_allocation_wrappers(profile, table);
  if (auto e = compile(options.focus, "--focus", profile.frames.size(), focus)) return *e;
  if (auto e = compile(options.ignore, "--ignore", profile.frames.size(), ignore)) return *e;

  const size_t n = snapshots.size();
  out.totals.assign(n, Counts{});
  std::vector<Group> groups;
  std::unordered_map<std::string, size_t> group_of_key;
  ChangedStackCollector changed(profile, table);

  for (uint32_t sid = 0; sid < profile.stacks.size(); ++sid) {
    const MergedStack& stack = profile.stacks[sid];
    if (options.by == GroupBy::kStack && !focus.re && !ignore.re && !live_moved(stack.series)) {
      // It would be its own unlisted entry: count it in the totals and skip the symbolizer.
      for (size_t i = 0; i < n; ++i) out.totals[i] += stack.series[i];
      continue;
    }
    const size_t fold = table.folded_rows(stack.frames);
    // Row number -> (frame index, row within that frame).
    auto locate = [&](size_t row_index) {
      size_t frame_index = 0;
      while (frame_index < stack.frames.size() &&
             row_index >= table.rows(stack.frames[frame_index]).size()) {
        row_index -= table.rows(stack.frames[frame_index]).size();
        ++frame_index;
      }
      return std::make_pair(frame_index, row_index);
    };
    const size_t frame_index = locate(fold).first;
    if (focus.re && !focus.stack_matches(table, stack.frames, frame_index)) {
      ++out.stacks_filtered_out;
      continue;
    }
    if (ignore.re && ignore.stack_matches(table, stack.frames, frame_index)) {
      ++out.stacks_filtered_out;
      continue;
    }
    // The site is the program's own code: past the allocator and the C/C++ runtime.
    const size_t site_rows = table.site_rows(stack.frames, fold);
    const auto [site_frame, site_row] = locate(site_rows);
    const Row* site = site_frame < stack.frames.size()
                          ? &table.rows(stack.frames[site_frame])[site_row]
                          : nullptr;

    for (size_t i = 0; i < n; ++i) out.totals[i] += stack.series[i];
    const Counts d = stack.series.back() - stack.series.front();
    if (d.live_bytes > 0) out.growth_bytes += d.live_bytes;
    if (d.live_objs > 0) out.growth_objs += d.live_objs;
    if (options.keep_changed_stacks && (d.live_bytes != 0 || d.live_objs != 0)) {
      changed.add(stack, fold, site_rows, d);
    }

    size_t gi = groups.size();
    bool fresh = true;
    if (options.by != GroupBy::kStack) {
      auto [it, inserted] = group_of_key.emplace(group_key(site, options.by).text(), groups.size());
      gi = it->second;
      fresh = inserted;
      if (inserted) groups.emplace_back();
    } else {
      groups.emplace_back();
    }
    Group& g = groups[gi];
    if (fresh) g.series.assign(n, Counts{});
    for (size_t i = 0; i < n; ++i) g.series[i] += stack.series[i];
    ++g.stacks;
    if (stack.last_age) g.age += *stack.last_age;
    g.age_missing = g.age_missing || stack.last_age_missing;
    if (counted) {
      g.uncertainty.add(stack.series.front(), stack.series.back(), snapshots.front()->sampling,
                        !out.same_process);
    }
    if (fresh || metric(d, options.sort) > g.representative_growth) {
      g.representative = sid;
      g.representative_growth = metric(d, options.sort);
      g.representative_fold = fold;
      g.representative_site = site_rows - fold;
      g.site = site;
    }
  }

  // Keep what changed (live size or count moved in some interval) and is large enough.
  std::vector<size_t> listed;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    Group& g = groups[gi];
    const auto& s = g.series;
    if (!live_moved(s)) continue;
    // Back where it started (a trend that rose and fell again): not a change over the interval
    // compared, so not listed as one.
    if (g.delta().live_bytes == 0 && g.delta().live_objs == 0) continue;
    // For count profiles --min-bytes is a count (they have no bytes).
    const int64_t db = out.counts_only() ? g.delta().live_objs : g.delta().live_bytes;
    if ((db < 0 ? -db : db) < options.min_bytes) continue;
    if (out.trend_mode) {
      std::vector<int64_t> series;
      for (const Counts& c : s) series.push_back(metric(c, options.sort));
      g.trend = classify_trend(series);
      if (counted && (g.trend == Trend::kPlateau || g.trend == Trend::kNoise)) {
        std::vector<int64_t> samples;
        for (size_t i = 1; i < s.size(); ++i) {
          samples.push_back(s[i].live_samples - s[i - 1].live_samples);
        }
        if (too_few_samples_for_trend(samples)) g.trend = Trend::kTooFewSamples;
      }
    }
    listed.push_back(gi);
  }
  out.changed = listed.size();

  const SortKey other = options.sort == SortKey::kBytes ? SortKey::kObjects : SortKey::kBytes;
  auto label_of = [&](const Group& g) { return group_key(g.site, options.by).text(); };
  auto before = [&](size_t ia, size_t ib) {
    const Group& a = groups[ia];
    const Group& b = groups[ib];
    if (out.trend_mode && a.trend != b.trend) return trend_rank(a.trend) < trend_rank(b.trend);
    const Counts da = a.delta();
    const Counts db = b.delta();
    if (metric(da, options.sort) != metric(db, options.sort)) {
      return metric(da, options.sort) > metric(db, options.sort);
    }
    if (metric(da, other) != metric(db, other)) return metric(da, other) > metric(db, other);
    const std::string la = label_of(a), lb = label_of(b);
    if (la != lb) return la < lb;
    return a.representative < b.representative;
  };
  keep_top(listed, options.top, before);

  for (size_t gi : listed) {
    Group& g = groups[gi];
    Entry e;
    e.key = group_key(g.site, options.by);
    e.series = std::move(g.series);
    e.stacks = g.stacks;
    if (g.site != nullptr) {
      e.site = *g.site;
    } else {
      e.site.module = "[no frames]";
    }
    e.trend = g.trend;
    e.frames = table.stack_rows(profile.stacks[g.representative].frames, g.representative_fold);
    e.folded = g.representative_fold;
    e.site_frame = g.representative_site;
    if (e.site.unnamed) e.named_caller = named_caller(e.frames, e.site_frame);
    if (counted) e.sampled = g.uncertainty.result(e.delta().live_bytes, e.delta().live_objs);
    if (out.age.known && !g.age_missing) {
      e.age = EntryAge{g.age, g.age.mean_s(), g.age.oldest_bucket()};
      const int64_t base = e.series.front().live_bytes;
      if (out.age.still_live_known && base > 0) {
        const size_t c = *out.age.cutoff;
        const int64_t kept = c < g.age.before_bytes.size() ? g.age.before_bytes[c] : 0;
        // Sampled inputs estimate both sides apart: never above all of it.
        e.still_live = std::min(1.0, static_cast<double>(kept) / static_cast<double>(base));
      }
    }
    out.entries.push_back(std::move(e));
  }
  distinguish(out.entries);
  out.changed_stacks = changed.take();

  if (options.fail_on_growth) {
    out.gate = Gate{*options.fail_on_growth, growth_exceeds(out, *options.fail_on_growth), {}};
    if (is_sampled(out.sampling)) {
      out.gate->sampled_fails_above_bytes =
          reliably_over_threshold_bytes(*options.fail_on_growth, out.sampling);
    }
  }
  out.resources = analyze_resources(snapshots, symbols, options);
  if (snapshots.size() >= 2 && out.same_process && snapshots.front()->memory.present() &&
      snapshots.back()->memory.present()) {
    auto account = [](const Snapshot& s) {
      return account_memory(s.memory,
                            static_cast<uint64_t>(std::max<int64_t>(0, s.totals.live_bytes)),
                            is_sampled(s.sampling));
    };
    out.memory = compare_memory(account(*snapshots.front()), account(*snapshots.back()),
                                snapshots.back()->pid);
    // The kernel's and malloc's figures hold whatever the probe recorded; the live heap by
    // stack does not when the interval cannot be trusted.
    if (!out.interval_trusted())
      out.memory->reason +=
          "; the live heap by stack is not trustworthy over this interval (see the warnings)";
  }
  if (symbol_warnings) add_symbolizer_warnings(symbol_warnings(), out.warnings);
  return out;
}

}  // namespace leakprobe::analysis
