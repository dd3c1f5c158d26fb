#include "leakprobe/analysis/memory.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kPage = 4096;
// glibc's malloc_trim gives back the whole pages of a free chunk past its first 48 bytes
// (sizeof(struct malloc_chunk): the header and the list pointers it keeps).
constexpr uint64_t kTrimKeeps = 48;
// Per-chunk header of a glibc heap block, beyond its usable bytes.
constexpr uint64_t kChunkHeader = 8;

bool to_u64(std::string_view s, uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "name=value name=value ..." -> calls f(name, value); false if a pair is malformed.
template <typename F>
bool pairs(std::string_view value, F&& f) {
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && value[i] == ' ') ++i;
    if (i >= value.size()) break;
    size_t end = value.find(' ', i);
    if (end == std::string_view::npos) end = value.size();
    const std::string_view item = value.substr(i, end - i);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return false;
    if (!f(item.substr(0, eq), item.substr(eq + 1))) return false;
    i = end;
  }
  return true;
}

struct Field {
  const char* name;
  uint64_t* out;
};

bool numbers(std::string_view value, std::initializer_list<Field> fields) {
  return pairs(value, [&](std::string_view name, std::string_view v) {
    for (const Field& f : fields)
      if (name == f.name) return to_u64(v, *f.out);
    return true;  // a field this reader does not know
  });
}

bool parse_sizes(std::string_view list, std::vector<FreeChunkSizes>& out) {
  size_t i = 0;
  while (i < list.size()) {
    size_t end = list.find(',', i);
    if (end == std::string_view::npos) end = list.size();
    const std::string_view item = list.substr(i, end - i);
    // <from>-<to>:<count>:<total>
    const size_t dash = item.find('-'), c1 = item.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : item.find(':', c1 + 1);
    FreeChunkSizes s;
    if (dash == std::string_view::npos || c2 == std::string_view::npos || dash > c1 ||
        !to_u64(item.substr(0, dash), s.from) ||
        !to_u64(item.substr(dash + 1, c1 - dash - 1), s.to) ||
        !to_u64(item.substr(c1 + 1, c2 - c1 - 1), s.count) || !to_u64(item.substr(c2 + 1), s.total))
      return false;
    out.push_back(s);
    i = end + 1;
  }
  return true;
}

uint64_t sub0(uint64_t a, uint64_t b, bool* clamped) {
  if (b > a) {
    if (clamped && b - a > kPage) *clamped = true;
    return 0;
  }
  return a - b;
}

int64_t diff(uint64_t a, uint64_t b) { return static_cast<int64_t>(a) - static_cast<int64_t>(b); }

std::string mib(uint64_t bytes) { return format_bytes(static_cast<int64_t>(bytes)); }

}  // namespace

std::optional<std::string> parse_memory_meta(std::string_view key, std::string_view value,
                                             MemoryFacts& f) {
  bool ok = true;
  if (key == "memory.rss") {
    ok = numbers(value, {{"total", &f.rss_total},
                         {"heap", &f.rss_heap},
                         {"arena-heaps", &f.rss_arena_heaps},
                         {"stacks", &f.rss_stacks},
                         {"anon", &f.rss_anon},
                         {"file", &f.rss_file},
                         {"probe", &f.rss_probe}});
    f.has_rss = ok;
  } else if (key == "memory.recorded") {
    ok = numbers(value, {{"blocks", &f.recorded_blocks},
                         {"requested", &f.recorded_requested},
                         {"usable", &f.recorded_usable}});
    f.has_recorded = ok;
  } else if (key == "memory.before-recording") {
    uint64_t bytes = 0, since = 0;
    ok = numbers(value, {{"bytes", &bytes}, {"since", &since}});
    if (ok) {
      f.before_recording_bytes = bytes;
      f.before_recording_since = static_cast<int64_t>(since);
    }
  } else if (key == "memory.allocator") {
    f.allocator = std::string(value);
  } else if (key == "memory.mallinfo2") {
    ok = numbers(value, {{"arena", &f.mi_arena},
                         {"ordblks", &f.mi_ordblks},
                         {"hblks", &f.mi_hblks},
                         {"hblkhd", &f.mi_hblkhd},
                         {"uordblks", &f.mi_uordblks},
                         {"fordblks", &f.mi_fordblks},
                         {"keepcost", &f.mi_keepcost}});
    f.has_mallinfo = ok;
  } else if (key == "memory.arena") {
    MallocArenaFacts a;
    uint64_t nr = 0;
    ok = pairs(value, [&](std::string_view name, std::string_view v) {
      if (name == "sizes") return parse_sizes(v, a.sizes);
      uint64_t* out = name == "nr"            ? &nr
                      : name == "system"      ? &a.system
                      : name == "fast"        ? &a.fast
                      : name == "rest"        ? &a.rest
                      : name == "rest-chunks" ? &a.rest_chunks
                      : name == "top"         ? &a.top
                      : name == "subheaps"    ? &a.subheaps
                                              : nullptr;
      uint64_t ignored = 0;
      return to_u64(v, out ? *out : ignored);
    });
    a.nr = static_cast<int64_t>(nr);
    // The leading entries printed as "size - 15 .. size" whose totals add up to the fast
    // figure are the fast bins.
    uint64_t fast_seen = 0;
    for (FreeChunkSizes& e : a.sizes) {
      if (fast_seen >= a.fast || e.to - e.from != 15 || e.to % 16 != 0) break;
      e.fast = true;
      fast_seen += e.total;
    }
    if (ok) f.arenas.push_back(std::move(a));
  } else if (key == "memory.top-resident") {
    ok = numbers(value, {{"bytes", &f.top_resident},
                         {"main", &f.top_resident_main},
                         {"measured", &f.tops_measured},
                         {"arenas", &f.tops_arenas}});
    f.has_top_resident = ok;
  } else if (key == "memory.census-us") {
    uint64_t total = 0;
    ok = numbers(value, {{"total", &total}});
    if (ok) f.census_us = total;
  }
  if (!ok) return "malformed leakprobe." + std::string(key) + " value";
  return std::nullopt;
}

const char* memory_verdict_name(MemoryVerdict v) {
  switch (v) {
    case MemoryVerdict::kLiveHeapGrowth:
      return "live-heap-growth";
    case MemoryVerdict::kAllocatorRetention:
      return "allocator-retention";
    case MemoryVerdict::kNonHeapGrowth:
      return "non-heap-growth";
    case MemoryVerdict::kNoGrowth:
      return "no-growth";
  }
  return "no-growth";
}

MemoryAccount account_memory(const MemoryFacts& f, uint64_t heap_live, bool sampled) {
  MemoryAccount a;
  a.rss = f.rss_total;
  a.heap_live = heap_live;
  a.thread_stacks = f.rss_stacks;
  a.file = f.rss_file;
  a.probe = f.rss_probe;
  if (!f.glibc()) {
    // Another allocator: the kernel's split only; its heap is somewhere in "other anonymous".
    a.other_anon = sub0(f.rss_anon + f.rss_heap + f.rss_arena_heaps, heap_live, &a.clamped);
    return a;
  }
  a.heap_known = true;
  // Recorded blocks as malloc holds them: usable bytes plus a header each. Sampled files
  // record a sample of the blocks: their ratio of chunk to requested bytes is applied to
  // the estimated live heap.
  uint64_t chunks = heap_live;
  if (f.has_recorded && f.recorded_requested) {
    const uint64_t recorded_chunks = f.recorded_usable + kChunkHeader * f.recorded_blocks;
    chunks = sampled ? static_cast<uint64_t>(static_cast<double>(heap_live) *
                                             static_cast<double>(recorded_chunks) /
                                             static_cast<double>(f.recorded_requested))
                     : recorded_chunks;
  }
  if (chunks < heap_live) chunks = heap_live;
  a.heap_overhead = chunks - heap_live;
  // Everything in use in malloc (its heaps, and the blocks it mmapped one by one) that the
  // probe did not record.
  const uint64_t in_use = f.mi_uordblks + f.mi_hblkhd;
  // Resident but free inside malloc's heaps: what they hold minus what is in use there.
  // mallinfo2's free figure cannot say this: it still counts pages returned to the kernel.
  const uint64_t heap_rss = f.rss_heap + f.rss_arena_heaps;
  uint64_t free_resident = sub0(heap_rss, f.mi_uordblks, nullptr);
  // Blocks in use whose pages were never touched are not resident. Which ones is unknown;
  // they are taken from the part the probe did not record (recorded blocks were mostly
  // written by the program that asked for them).
  const uint64_t untouched =
      sub0(f.mi_uordblks, heap_rss, nullptr) + sub0(f.mi_hblkhd, f.rss_anon, nullptr);
  a.heap_before_recording = sub0(sub0(in_use, chunks, &a.clamped), untouched, &a.clamped);
  if (free_resident > f.mi_fordblks) free_resident = f.mi_fordblks;
  const uint64_t top = std::min(f.top_resident, free_resident);
  a.heap_free_top = top;
  a.heap_free_interior = free_resident - top;
  // Blocks malloc mmapped one by one are in the kernel's anonymous figure.
  a.other_anon = sub0(f.rss_anon, f.mi_hblkhd, &a.clamped);

  // What malloc_trim(0) would return: the main arena's top, and in every arena the whole
  // pages inside each binned free chunk, in the proportion that is resident (the other
  // arenas' tops it leaves alone). A chunk of s bytes at a random page offset holds
  // max(0, s - 48 - 4096) bytes of whole pages past its first 48 on average.
  uint64_t interior_free = 0;
  double whole_pages = 0;
  for (const MallocArenaFacts& ar : f.arenas) {
    interior_free += sub0(ar.free_bytes(), ar.top, nullptr);
    if (ar.free_bytes() >= kMiB) ++a.arenas_holding_free;
    for (const FreeChunkSizes& s : ar.sizes) {
      a.largest_free_chunk = std::max(a.largest_free_chunk, s.to);
      if (s.fast || !s.count) continue;
      const double avg = static_cast<double>(s.total) / static_cast<double>(s.count);
      const double keep = static_cast<double>(kTrimKeeps + kPage);
      if (avg > keep) whole_pages += static_cast<double>(s.count) * (avg - keep);
    }
  }
  a.arenas = static_cast<int>(f.arenas.size());
  const double resident_share = interior_free
                                    ? std::min(1.0, static_cast<double>(a.heap_free_interior) /
                                                        static_cast<double>(interior_free))
                                    : 0.0;
  a.releasable =
      std::min(top, f.top_resident_main) + static_cast<uint64_t>(whole_pages * resident_share);
  if (a.releasable > free_resident) a.releasable = free_resident;
  return a;
}

MemoryReport compare_memory(const MemoryAccount& base, const MemoryAccount& now,
                            std::optional<int64_t> pid) {
  MemoryReport r;
  r.base = base;
  r.now = now;
  r.pid = pid;
  r.rss_change = diff(now.rss, base.rss);
  r.heap_in_use_change = diff(now.heap_in_use(), base.heap_in_use());
  r.heap_live_change = diff(now.heap_live, base.heap_live);
  r.heap_free_change = diff(now.heap_free(), base.heap_free());
  r.thread_stack_change = diff(now.thread_stacks, base.thread_stacks);
  r.other_change = diff(now.other(), base.other());

  // Growth smaller than this is noise: pages touched once, a cache warming up.
  const int64_t threshold =
      std::max<int64_t>(static_cast<int64_t>(kMiB), static_cast<int64_t>(base.rss / 50));
  const std::string grew = "RSS grew by " + format_bytes(r.rss_change);
  if (r.heap_live_change > threshold && r.heap_live_change * 2 >= r.rss_change) {
    r.verdict = MemoryVerdict::kLiveHeapGrowth;
    r.reason = r.rss_change > threshold
                   ? grew + ", " + format_bytes(r.heap_live_change) +
                         " of it live heap: a leak or a growing store (the stacks below)"
                   : "the live heap grew by " + format_bytes(r.heap_live_change) +
                         " in memory malloc already had; RSS follows once that is used up";
  } else if (r.rss_change <= threshold) {
    r.verdict = MemoryVerdict::kNoGrowth;
    r.reason = "RSS changed by " + format_bytes(r.rss_change) + " (less than " +
               format_bytes(threshold) + ")";
  } else {
    const int64_t in_use = now.heap_known ? r.heap_in_use_change : r.heap_live_change;
    const int64_t free = now.heap_known ? r.heap_free_change : 0;
    const int64_t outside = r.thread_stack_change + r.other_change;
    if (in_use >= free && in_use >= outside) {
      r.verdict = MemoryVerdict::kLiveHeapGrowth;
      r.reason = grew + ", " + format_bytes(in_use) + " of it memory in use in malloc" +
                 (r.heap_live_change < in_use / 2
                      ? " that the probe did not record (from before recording started, or "
                        "thread caches)"
                      : "");
    } else if (free >= outside) {
      r.verdict = MemoryVerdict::kAllocatorRetention;
      r.reason = grew + ", " + format_bytes(free) +
                 " of it freed memory that malloc keeps resident: not a leak";
    } else {
      r.verdict = MemoryVerdict::kNonHeapGrowth;
      r.reason = grew + " outside malloc's heap: " + format_bytes(r.thread_stack_change) +
                 " thread stacks, " + format_bytes(r.other_change) +
                 " other mappings (mmap, files, the probe)";
      if (!now.heap_known)
        r.reason += "; malloc is not glibc's, so freed memory it keeps is counted here too";
    }
  }

  // Advice fitting what the newer snapshot shows.
  const std::string pid_text = pid ? std::to_string(*pid) : std::string("PID");
  if (!now.heap_known) {
    r.advice.push_back(
        {MemoryAdvice::Kind::kForeignAllocator,
         "malloc is not glibc's: the kernel's figures are split, the allocator's are not; ask "
         "that allocator for its own statistics (jemalloc: malloc_stats_print(), tcmalloc: "
         "MallocExtension::GetStats())"});
    return r;
  }
  if (now.releasable >= kMiB &&
      (r.verdict == MemoryVerdict::kAllocatorRetention || now.releasable * 10 >= now.rss)) {
    r.advice.push_back({MemoryAdvice::Kind::kTrim,
                        "prove it on the running process: `leakprobe trim " + pid_text +
                            "` has malloc return its free pages (malloc_trim(0)); expect RSS "
                            "to drop by about " +
                            mib(now.releasable)});
  }
  if (now.arenas_holding_free >= 3) {
    r.advice.push_back(
        {MemoryAdvice::Kind::kArenaMax,
         std::to_string(now.arenas_holding_free) + " of " + std::to_string(now.arenas) +
             " malloc arenas hold 1 MiB or more free each: fewer arenas reuse each other's "
             "free memory; start the service with GLIBC_TUNABLES=glibc.malloc.arena_max=2 "
             "(or MALLOC_ARENA_MAX=2), at some cost when many threads allocate at once"});
  }
  if (now.heap_free_interior >= 8 * kMiB && now.largest_free_chunk >= 128 * 1024) {
    r.advice.push_back(
        {MemoryAdvice::Kind::kMmapThreshold,
         mib(now.heap_free_interior) +
             " resident in holes between live blocks (free chunks "
             "up to " +
             mib(now.largest_free_chunk) +
             "): glibc returns holes only on malloc_trim(); large blocks served by mmap go "
             "back on free: a fixed M_MMAP_THRESHOLD (GLIBC_TUNABLES=glibc.malloc.mmap_"
             "threshold=131072, MALLOC_MMAP_THRESHOLD_) keeps it from rising, or call "
             "malloc_trim(0) after bursts"});
  }
  if (now.heap_free_top >= 4 * kMiB) {
    r.advice.push_back(
        {MemoryAdvice::Kind::kTrimThreshold,
         mib(now.heap_free_top) +
             " resident at the top of malloc's heaps: glibc keeps up to "
             "M_TRIM_THRESHOLD there (it rises to 2x the mmap threshold, up to 64 MiB, after "
             "large frees); GLIBC_TUNABLES=glibc.malloc.trim_threshold=131072 "
             "(MALLOC_TRIM_THRESHOLD_) returns it on free"});
  }
  return r;
}

}  // namespace leakprobe::analysis
