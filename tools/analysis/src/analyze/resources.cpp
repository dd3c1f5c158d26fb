#include "leakprobe/analysis/resources.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "leakprobe/analysis/merge.h"
#include "leakprobe/analysis/ranking.h"
#include "leakprobe/analysis/site.h"
#include "leakprobe/snapshot_format.h"

namespace leakprobe::analysis {
namespace {

namespace fmt = leakprobe::format;

// The resource lines of one kind, as a snapshot merge_snapshots() can line up: the maps and
// build-ids of the original, the lines as stacks (live in live_objs, created in alloc_objs).
Snapshot kind_view(const Snapshot& s, const std::string& kind) {
  Snapshot v;
  v.name = s.name;
  v.flavour = s.flavour;
  v.exe = s.exe;
  v.build_ids = s.build_ids;
  v.mappings = s.mappings;
  v.first_mapped_path = s.first_mapped_path;
  for (const ResourceSample& r : s.resources) {
    if (r.kind != kind) continue;
    StackSample st;
    st.counts.live_objs = r.live;
    st.counts.alloc_objs = r.created;
    st.addrs = r.addrs;
    v.stacks.push_back(std::move(st));
  }
  return v;
}

struct Group {
  ResourceEntry entry;
  uint32_t representative = 0;
  int64_t representative_growth = 0;
  size_t site_rows = 0;
  const MergedProfile* profile = nullptr;
  const SymbolTable* table = nullptr;
};

}  // namespace

std::string resource_noun(const std::string& kind, int64_t count) {
  const bool one = count == 1 || count == -1;
  static const std::map<std::string, std::pair<const char*, const char*>> kNouns = {
      {"tcp", {"TCP socket", "TCP sockets"}},
      {"udp", {"UDP socket", "UDP sockets"}},
      {"unix", {"Unix socket", "Unix sockets"}},
      {"timerfd", {"timerfd", "timerfds"}},
      {"eventfd", {"eventfd", "eventfds"}},
      {"epoll", {"epoll descriptor", "epoll descriptors"}},
      {"pipe", {"pipe end", "pipe ends"}},
      {"file", {"file", "files"}},
      {"memfd", {"memfd", "memfds"}},
      {"other-fd", {"other descriptor", "other descriptors"}},
      {"timer", {"POSIX timer", "POSIX timers"}},
      {"thread", {"thread", "threads"}},
  };
  auto it = kNouns.find(kind);
  if (it == kNouns.end()) return kind;
  return one ? it->second.first : it->second.second;
}

ResourceReport analyze_resources(const std::vector<const Snapshot*>& snapshots,
                                 const SymbolSource& symbols, const Options& options) {
  ResourceReport out;
  out.gate_threshold = options.fail_on_resource_growth;
  for (const Snapshot* s : snapshots) out.mentioned = out.mentioned || s->resources_tracked;
  if (snapshots.size() < 2) {
    out.why_not = "fewer than 2 inputs";
    return out;
  }
  for (const Snapshot* s : snapshots) {
    if (!s->resources_tracked) {
      out.why_not = s->name +
                    " has no resource sections (not a leakprobe snapshot with "
                    "resource tracking)";
      return out;
    }
    if (!*s->resources_tracked) {
      out.why_not = s->name + " was written with resource tracking off (LEAKPROBE_RESOURCES=0)";
      return out;
    }
  }
  out.available = true;
  const size_t n = snapshots.size();
  const bool trend_mode = n >= 3;
  const std::string program = snapshots.back()->program();
  for (const Snapshot* s : snapshots) out.untracked_fds.push_back(s->untracked_fds.value_or(-1));

  std::vector<Group> groups;
  // Profiles and symbol tables per kind, kept alive while their rows are read.
  std::vector<std::unique_ptr<MergedProfile>> profiles;
  std::vector<std::unique_ptr<SymbolTable>> tables;
  for (const char* kind_name : fmt::kResourceSectionNames) {
    const std::string kind = kind_name;
    std::vector<Snapshot> views;
    views.reserve(n);
    bool any = false;
    for (const Snapshot* s : snapshots) {
      views.push_back(kind_view(*s, kind));
      any = any || !views.back().stacks.empty();
    }
    if (!any) continue;
    std::vector<const Snapshot*> view_ptrs;
    for (const Snapshot& v : views) view_ptrs.push_back(&v);
    profiles.push_back(std::make_unique<MergedProfile>(merge_snapshots(view_ptrs)));
    const MergedProfile& profile = *profiles.back();
    tables.push_back(std::make_unique<SymbolTable>(profile, symbols));
    const SymbolTable& table = *tables.back();

    ResourceKindTotals totals{kind, std::vector<int64_t>(n, 0)};
    std::unordered_map<std::string, size_t> group_of_key;
    for (uint32_t sid = 0; sid < profile.stacks.size(); ++sid) {
      const MergedStack& stack = profile.stacks[sid];
      for (size_t i = 0; i < n; ++i) totals.live[i] += stack.series[i].live_objs;
      const bool inherited = stack.frames.empty();
      size_t site_rows = 0;
      const Row* site = nullptr;
      if (!inherited) {
        // Folding keeps the probe's own frames out (there should be none); the site is the
        // first row of the program's own code, as for the heap: a thread leaked through
        // std::thread is the fault of whoever constructed the std::thread.
        const size_t fold = table.folded_rows(stack.frames);
        site_rows = table.site_rows(stack.frames, fold);
        // A socket opened inside a client library (libmosquitto's connect) is leaked by the
        // program that never closes the client: the site is the first row in the program's
        // own executable when the stack reaches it.
        size_t rows_before = 0;
        for (uint32_t f : stack.frames) {
          const std::vector<Row>& rows = table.rows(f);
          if (!rows.empty() && rows.front().module == program) {
            if (rows_before > site_rows) site_rows = rows_before;
            break;
          }
          rows_before += rows.size();
        }
        size_t row = site_rows, frame = 0;
        while (frame < stack.frames.size() && row >= table.rows(stack.frames[frame]).size()) {
          row -= table.rows(stack.frames[frame]).size();
          ++frame;
        }
        if (frame < stack.frames.size()) site = &table.rows(stack.frames[frame])[row];
      }
      const std::string key = inherited                       ? std::string("[inherited]")
                              : options.by == GroupBy::kStack ? std::to_string(sid)
                                                              : group_key(site, options.by).text();
      auto [it, fresh] = group_of_key.emplace(key, groups.size());
      if (fresh) {
        groups.emplace_back();
        Group& g = groups.back();
        g.entry.kind = kind;
        g.entry.inherited = inherited;
        g.entry.live.assign(n, 0);
        g.entry.created.assign(n, 0);
        g.profile = &profile;
        g.table = &table;
      }
      Group& g = groups[it->second];
      for (size_t i = 0; i < n; ++i) {
        g.entry.live[i] += stack.series[i].live_objs;
        g.entry.created[i] += stack.series[i].alloc_objs;
      }
      ++g.entry.stacks;
      const int64_t d = stack.series.back().live_objs - stack.series.front().live_objs;
      if (fresh || d > g.representative_growth) {
        g.representative = sid;
        g.representative_growth = d;
        g.site_rows = site_rows;
        if (site) {
          g.entry.site = *site;
          g.entry.key = inherited ? "[inherited]" : group_key(site, options.by).text();
        } else {
          g.entry.site = Row{};
          g.entry.site.module = inherited ? "[inherited]" : "[no frames]";
          g.entry.key = g.entry.site.module;
        }
      }
    }
    out.totals.push_back(std::move(totals));
  }

  std::vector<size_t> listed;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    ResourceEntry& e = groups[gi].entry;
    bool moved = false;
    for (size_t i = 1; i < n; ++i) moved = moved || e.live[i] != e.live[i - 1];
    if (!moved) continue;
    if (e.delta() > 0) out.growth += e.delta();
    if (trend_mode) e.trend = classify_trend(e.live);
    listed.push_back(gi);
  }
  out.changed = listed.size();
  auto before = [&](size_t ia, size_t ib) {
    const ResourceEntry& a = groups[ia].entry;
    const ResourceEntry& b = groups[ib].entry;
    if (trend_mode && a.trend != b.trend) return trend_rank(a.trend) < trend_rank(b.trend);
    if (a.delta() != b.delta()) return a.delta() > b.delta();
    if (a.delta_created() != b.delta_created()) return a.delta_created() > b.delta_created();
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.key < b.key;
  };
  keep_top(listed, options.top, before);
  for (size_t gi : listed) {
    Group& g = groups[gi];
    if (!g.entry.inherited) {
      g.entry.frames = g.table->stack_rows(g.profile->stacks[g.representative].frames, 0);
      g.entry.site_frame = g.site_rows;
    }
    out.entries.push_back(std::move(g.entry));
  }
  if (out.gate_threshold) out.gate_exceeded = out.growth > *out.gate_threshold;
  return out;
}

}  // namespace leakprobe::analysis
