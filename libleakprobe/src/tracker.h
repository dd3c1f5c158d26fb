// The tracking core: what is live, from which stack, and how much was ever allocated.
// Driven by alloc_api (and directly by unit tests); knows nothing of LD_PRELOAD, signals
// or files. All state lives in one Tracker reached through tracker().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "arena.h"
#include "forwarding.h"
#include "options.h"
#include "pointer_map.h"
#include "sampler.h"
#include "stack_table.h"

namespace leakprobe {

struct WalkStart;  // unwind.h

class Tracker {
 public:
  // Maps the tables. False (after one stderr line) if memory cannot be had.
  bool init(const Options& opts);

  const Options& options() const { return opts_; }
  bool active() const { return active_.load(std::memory_order_relaxed); }

  // Recording, switched at run time (`leakprobe enable/disable PID`; LEAKPROBE_ENABLED=0
  // starts with it off: the probe is installed dormant). Off, new blocks are not recorded;
  // frees still take out blocks recorded while it was on, so a later enable never shows
  // them as live. Until recording has been on once, a free costs one more load and nothing
  // else: the pointer map is empty and is not looked at.
  bool recording() const { return recording_.load(std::memory_order_relaxed); }
  bool ever_recorded() const { return ever_recorded_.load(std::memory_order_relaxed); }
  // Returns the previous state.
  bool set_recording(bool on);
  // For the snapshot header (`recording`, `recording-changed`): wall-clock microseconds when
  // the current recording state began (init, or the switch that made it), and when it was
  // first switched (0: never, the state has held since init).
  int64_t recording_since_us() const { return recording_since_us_.load(std::memory_order_relaxed); }
  int64_t recording_first_switch_us() const {
    return recording_first_switch_us_.load(std::memory_order_relaxed);
  }

  // A new block from the calling code: decides sampling, captures the stack, records it.
  // Inline up to the sampling decision: in sampled mode that is all most calls cost.
  // errno is preserved (the unwinder and mmap may set it).
  // `start`: where the stack walk may begin (unwind.h, WalkStart), or nullptr.
  void on_alloc(const void* p, size_t size, const WalkStart* start = nullptr) {
    if (!recording()) return;
    if (skips(size)) return;
    capture_and_record(p, size, start);
  }
  // The two halves of on_alloc, for the interposed malloc: the sampling decision (true: this
  // allocation is not sampled; it draws from the thread's sampler, so ask once per block),
  // made before the real call and without the guard, then the recording of a sampled block.
  bool skips(size_t size) {
    return opts_.sample_bytes && !thread_sampler().should_sample(size, opts_.sample_bytes);
  }
  void record_decided(const void* p, size_t size, const WalkStart* start = nullptr) {
    if (p) capture_and_record(p, size, start);
  }
  // False if `p` is surely not recorded (the sampled-free filter's page count is 0): its free
  // only forwards. One load, no lock, no hash probe.
  std::atomic<uint16_t>* sample_filter() const { return filter_; }
  bool may_be_recorded(const void* p) {
    return ever_recorded() && (!filter_ || filter_slot(p).load(std::memory_order_relaxed) != 0);
  }
  // A block about to be released: recorded *before* the real free so another thread that
  // gets the same address next cannot collide with the stale entry. Inline up to the
  // sampling filter. Leaves errno alone (the locked path makes no failing calls).
  void on_free(const void* p) {
    if (!p || !ever_recorded() || (filter_ && filter_slot(p).load(std::memory_order_relaxed) == 0))
      return;
    free_tracked(p);
  }

  // realloc in two halves around the real call. begin() takes the old block out of the map
  // (a moving realloc must not leave it there for a reuse of that address); end() puts it
  // back if the real realloc failed, or records the new block.
  struct ReallocTicket {
    bool tracked = false;
    bool unrecorded = false;        // not in the map, and counts_unrecorded(): see below
    uint64_t old = 0;               // the old block's packed pointer-map value
    uint32_t old_s = 0;             // and when it was allocated (seconds since start)
    uint64_t unrecorded_bytes = 0;  // its usable size, read before the real realloc
  };
  ReallocTicket realloc_begin(const void* old);
  void realloc_end(const ReallocTicket& t, const void* old, const void* result, size_t size,
                   const WalkStart* start = nullptr);

  // The same with an explicit stack, for unit tests and for on_alloc itself.
  void record_alloc(const void* p, size_t size, const uintptr_t* frames, int depth, bool truncated);
  bool record_free(const void* p);

  // The allocator's malloc_usable_size, so each recorded block also counts what malloc
  // gave it beyond the request (Bucket::live_slack). Unset in unit tests, whose blocks are
  // not malloc's: slack 0. Called only on blocks the caller still owns.
  void set_usable_size(size_t (*fn)(void*)) { usable_size_ = fn; }

  const StackTable& stacks() const { return stacks_; }
  const PointerMap& pointers() const { return ptrs_; }
  size_t live_pointers() const { return ptrs_.size(); }

  // The clock of the blocks' allocation times (age_census.h): seconds since the tracker
  // started, on the coarse monotonic clock (a vDSO read of the kernel's tick, no system call:
  // it is paid once per recorded block, next to a stack walk). Monotonic, so a wall-clock
  // step never makes a block younger or older.
  uint32_t now_s() const;
  // The same clock in milliseconds, for the snapshot's "now" and its cutoffs.
  int64_t now_ms() const;
  // Unit tests of ages: moves the clock's zero back, as if `seconds` had passed.
  void advance_clock_for_tests(int64_t seconds) { start_mono_ns_ -= seconds * 1000000000; }
  // Unpacks a pointer-map value (age_census.cpp reads copied entries).
  uint32_t stack_index_of(uint64_t v) const { return static_cast<uint32_t>(v >> kSizeBits); }
  static uint64_t size_of(uint64_t v) { return v & kMaxSize; }
  // The probe's own memory: everything mapped (tables, arena) plus this object.
  uint64_t probe_bytes() const;

  // What snapshots cannot show from some moment on (format::kKeyIncomplete); recording goes
  // on around it. Frees in particular are always still taken out, so live counts never
  // freeze.
  enum class Gap { kStackTableFull, kDeepbindFrees, kForeignMalloc, kOutOfMemory, kCount };
  // Remembers when `gap` first happened (unix seconds) and says `why` once (nullptr: said
  // elsewhere). Lock- and allocation-free: called from inside malloc.
  void note_incomplete(Gap gap, const char* why);
  // 0 if it never happened.
  int64_t incomplete_since(Gap gap) const {
    return gap_since_[static_cast<int>(gap)].load(std::memory_order_relaxed);
  }

  // Attach mode (leakprobe_attach): recording began in a process that had run for a while.
  // `since_us` (wall clock) is when; 0 means preloaded. With `count_unrecorded`, every free
  // (and moving realloc) of a block the map does not hold is counted: a block from before
  // the attach, or from a call the rewritten slots do not cover. Off in sampled mode, where
  // most such frees never reach the map (the page filter sends them on first).
  void note_attached(int64_t since_us, bool count_unrecorded);
  int64_t attached_since_us() const { return attached_since_us_.load(std::memory_order_relaxed); }
  bool counts_unrecorded() const { return count_unrecorded_.load(std::memory_order_relaxed); }
  struct Unrecorded {
    uint64_t frees, bytes;  // bytes: the allocator's usable size of each such block
  };
  Unrecorded unrecorded_frees() const;
  // Forgets every recorded block and zeroes every stack's counters: a new attach after a
  // detach, whose frees the probe no longer saw. Takes every table lock (fork's order).
  void forget_all_blocks();

  // fork: prepare holds every lock, parent/child release them.
  void lock_for_fork();
  void unlock_after_fork();
  void reset_after_fork_in_child();

 private:
  // Pointer-map values: the stack's index in the high bits, the requested size in the low
  // 38 (256 GiB; LEAKPROBE_MAX_STACKS is capped at 2^26 so the index fits the rest).
  static constexpr int kSizeBits = 38;
  static constexpr uint64_t kMaxSize = (uint64_t{1} << kSizeBits) - 1;
  static uint64_t pack(const Bucket* b, uint64_t size) {
    return (uint64_t{b->index} << kSizeBits) | size;
  }
  Bucket* bucket_of(uint64_t v) const { return stacks_.at(static_cast<uint32_t>(v >> kSizeBits)); }
  // record_alloc in two steps: the stack's bucket
  // (nullptr, after saying why, if the block is not recorded), then the block itself.
  Bucket* intern(size_t size, const uintptr_t* frames, int depth, bool truncated);
  void record_bucket(const void* p, size_t size, Bucket* b);

  uint64_t slack_of(const void* p, uint64_t size) const {
    if (!usable_size_) return 0;
    const uint64_t usable = usable_size_(const_cast<void*>(p));
    return usable > size ? usable - size : 0;
  }
  void capture_and_record(const void* p, size_t size, const WalkStart* start);
  bool free_tracked(const void* p);

  // "Maybe sampled" filter: one counter per 4 KiB page of address space (modulo 4 GiB), so
  // the free of a block that was never sampled (nearly all of them) costs one load instead
  // of a locked lookup. Page granularity keeps the filter's own footprint at 1/2048 of the
  // heap, so that load hits the cache; a hashed, per-block filter missed on almost every
  // free (measured: most of the sampled-mode overhead). A page holding a live sampled block
  // costs its other frees a lookup; at a 512 KiB mean that is ~1% of pages.
  static constexpr size_t kFilterSlots = kSampleFilterSlots;
  std::atomic<uint16_t>& filter_slot(const void* p) { return filter_[sample_filter_index(p)]; }

  Options opts_;
  Arena arena_;
  StackTable stacks_;
  PointerMap ptrs_;
  std::atomic<uint16_t>* filter_ = nullptr;
  size_t (*usable_size_)(void*) = nullptr;
  std::atomic<bool> active_{false};
  std::atomic<bool> recording_{false};
  std::atomic<bool> ever_recorded_{false};
  std::atomic<int64_t> recording_since_us_{0};
  std::atomic<int64_t> recording_first_switch_us_{0};
  int64_t start_mono_ns_ = 0;  // now_s()'s zero
  std::atomic<int64_t> gap_since_[static_cast<int>(Gap::kCount)] = {};
  std::atomic<bool> gap_said_[static_cast<int>(Gap::kCount)] = {};
  std::atomic<bool> huge_said_{false};
  void count_unrecorded(const void* p) {
    if (!count_unrecorded_.load(std::memory_order_relaxed)) return;
    Shared& c = unrecorded_[(reinterpret_cast<uintptr_t>(p) >> 4) % kUnrecordedShards];
    c.frees.fetch_add(1, std::memory_order_relaxed);
    if (usable_size_)
      c.bytes.fetch_add(usable_size_(const_cast<void*>(p)), std::memory_order_relaxed);
  }
  // Frees of pre-attach blocks come from every thread at once right after an attach: spread
  // over cache lines so they do not all bounce one.
  static constexpr size_t kUnrecordedShards = 16;
  struct alignas(64) Shared {
    std::atomic<uint64_t> frees{0}, bytes{0};
  };
  Shared unrecorded_[kUnrecordedShards];
  std::atomic<bool> count_unrecorded_{false};
  std::atomic<int64_t> attached_since_us_{0};
};

// The one state object; nullptr until the probe has started (or when it was never enabled).
Tracker* tracker();
// tracker() if it is active and may record the heap, else nullptr: the allocation hot
// paths' single check.
inline Tracker* active_tracker();

// Creates the tracker in static storage. Returns nullptr (after one stderr line) on failure.
// `record_heap` false: the allocation functions never reach it (another allocator serves the
// program's malloc, preload_order.h); descriptors, timers and threads are still recorded.
Tracker* create_tracker(const Options& opts, bool record_heap = true);

namespace detail {
extern std::atomic<Tracker*> g_tracker;
extern std::atomic<Tracker*> g_heap_tracker;
}  // namespace detail
inline Tracker* tracker() { return detail::g_tracker.load(std::memory_order_acquire); }
inline Tracker* active_tracker() {
  Tracker* t = detail::g_heap_tracker.load(std::memory_order_acquire);
  return t && t->active() ? t : nullptr;
}

}  // namespace leakprobe
