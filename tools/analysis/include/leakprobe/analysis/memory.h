// Is it a leak? Where a process's resident memory is (the snapshot's memory section, see
// docs/snapshot-format.md), accounted as a waterfall whose parts add up to the RSS, and what
// changed between two snapshots: live heap that grew (a leak or a growing store), freed memory
// malloc keeps resident (not a leak), or memory outside the heap.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leakprobe::analysis {

// ---- What the probe wrote (facts) ---------------------------------------------------------

struct FreeChunkSizes {  // one entry of malloc_info's free-chunk histogram
  uint64_t from = 0, to = 0, count = 0, total = 0;
  // A fast-bin entry: malloc_info lists those first, and their totals make up the arena's
  // "fast" figure (set while parsing; from/to alone cannot tell, bins print raw size fields).
  bool fast = false;
};

struct MallocArenaFacts {  // one <heap> of malloc_info
  int64_t nr = 0;
  uint64_t system = 0;       // bytes malloc got from the kernel for this arena
  uint64_t fast = 0;         // free in fast bins
  uint64_t rest = 0;         // free in the other bins plus the top chunk
  uint64_t rest_chunks = 0;  // their count
  uint64_t top = 0;          // the top chunk (rest minus the binned chunks)
  uint64_t subheaps = 0;
  std::vector<FreeChunkSizes> sizes;
  uint64_t free_bytes() const { return fast + rest; }
};

struct MemoryFacts {
  // memory.rss, from /proc/self/smaps (malloc's heaps page by page with mincore)
  bool has_rss = false;
  uint64_t rss_total = 0, rss_heap = 0, rss_arena_heaps = 0, rss_stacks = 0, rss_anon = 0,
           rss_file = 0, rss_probe = 0;
  // memory.recorded: the live blocks the probe recorded (raw: sampled files hold samples)
  bool has_recorded = false;
  uint64_t recorded_blocks = 0, recorded_requested = 0, recorded_usable = 0;
  // memory.before-recording
  std::optional<uint64_t> before_recording_bytes;
  std::optional<int64_t> before_recording_since;
  // memory.allocator: "glibc 2.36" or "foreign <path>"
  std::string allocator;
  // memory.mallinfo2
  bool has_mallinfo = false;
  uint64_t mi_arena = 0, mi_ordblks = 0, mi_hblks = 0, mi_hblkhd = 0, mi_uordblks = 0,
           mi_fordblks = 0, mi_keepcost = 0;
  std::vector<MallocArenaFacts> arenas;  // memory.arena, malloc_info order (0 = main)
  // memory.top-resident
  bool has_top_resident = false;
  uint64_t top_resident = 0, top_resident_main = 0, tops_measured = 0, tops_arenas = 0;
  // memory.census-us
  std::optional<uint64_t> census_us;

  bool present() const { return has_rss; }
  bool glibc() const { return allocator.rfind("glibc", 0) == 0 && has_mallinfo; }
};

// Reads one "# leakprobe.memory.<key>: <value>" line (`key` without the "memory." prefix
// is not accepted: pass the whole key). Returns an error text for a malformed value; unknown
// memory keys are ignored as the format requires.
std::optional<std::string> parse_memory_meta(std::string_view key, std::string_view value,
                                             MemoryFacts& facts);

// ---- The account -------------------------------------------------------------------------

// One snapshot's RSS, split into parts that add up to it (`sum()`). When malloc is not glibc's
// the heap parts are unknown (0) and everything the kernel counts is under `other`.
struct MemoryAccount {
  uint64_t rss = 0;
  uint64_t heap_live = 0;              // live heap by stack (the snapshot's stacks, requested)
  uint64_t heap_overhead = 0;          // malloc's on top of them: usable - requested, headers
  uint64_t heap_before_recording = 0;  // in use in malloc, not recorded: live before recording
                                       // began (or through paths not recorded), thread caches
  uint64_t heap_free_top = 0;          // free, resident, at the top of an arena
  uint64_t heap_free_interior = 0;     // free, resident, in holes between live blocks
  uint64_t thread_stacks = 0;
  uint64_t other_anon = 0;          // other anonymous memory (mmap, malloc's mmapped blocks
                                    // are in heap_live/overhead)
  uint64_t file = 0;                // file-backed and kernel-provided mappings
  uint64_t probe = 0;               // leakprobe's own tables
  uint64_t releasable = 0;          // what malloc_trim(0) would give back, estimated
  int arenas = 0;                   // malloc arenas
  int arenas_holding_free = 0;      // arenas holding >= 1 MiB free each
  uint64_t largest_free_chunk = 0;  // the largest free-chunk size malloc_info listed
  bool heap_known = false;          // glibc malloc figures present
  bool clamped = false;             // some part was cut at 0 (the facts disagree)

  uint64_t heap_free() const { return heap_free_top + heap_free_interior; }
  uint64_t other() const { return other_anon + file + probe; }
  uint64_t heap_in_use() const { return heap_live + heap_overhead + heap_before_recording; }
  uint64_t sum() const {
    return heap_in_use() + heap_free() + thread_stacks + other_anon + file + probe;
  }
};

enum class MemoryVerdict { kLiveHeapGrowth, kAllocatorRetention, kNonHeapGrowth, kNoGrowth };
const char* memory_verdict_name(MemoryVerdict v);  // "live-heap-growth", ...

// Advice for the finding: what to try, and the figure to expect back.
struct MemoryAdvice {
  enum class Kind {
    kTrim,              // prove it: `leakprobe trim PID`, expect ~releasable back
    kArenaMax,          // many arenas hold free memory: glibc.malloc.arena_max / MALLOC_ARENA_MAX
    kMmapThreshold,     // large holes: big blocks from mmap (M_MMAP_THRESHOLD)
    kTrimThreshold,     // a large resident top: M_TRIM_THRESHOLD
    kForeignAllocator,  // malloc is not glibc's: its own statistics
  };
  Kind kind;
  std::string text;  // one sentence, rendered by every writer as is
};

struct MemoryReport {
  MemoryAccount base, now;
  int64_t rss_change = 0;
  int64_t heap_in_use_change = 0;  // live + overhead + before recording
  int64_t heap_live_change = 0;
  int64_t heap_free_change = 0;
  int64_t thread_stack_change = 0;
  int64_t other_change = 0;
  MemoryVerdict verdict = MemoryVerdict::kNoGrowth;
  std::string reason;  // one sentence: why this verdict
  std::optional<int64_t> pid;
  std::vector<MemoryAdvice> advice;
};

// The account of one snapshot from its facts and its stacks' live bytes (already unsampled).
MemoryAccount account_memory(const MemoryFacts& facts, uint64_t heap_live, bool sampled);

// The change from `base` to `now`, its verdict and the advice that fits it.
MemoryReport compare_memory(const MemoryAccount& base, const MemoryAccount& now,
                            std::optional<int64_t> pid);

}  // namespace leakprobe::analysis
