#include "tracker.h"

#include <time.h>

#include <cerrno>
#include <new>

#include "forwarding.h"
#include "log.h"
#include "sampler.h"
#include "unwind.h"

namespace leakprobe {

namespace detail {
std::atomic<Tracker*> g_tracker{nullptr};
std::atomic<Tracker*> g_heap_tracker{nullptr};
}  // namespace detail

namespace {
alignas(Tracker) char g_tracker_storage[sizeof(Tracker)];

// The snapshot's own clock (leakprobe.time is wall-clock too), so the two compare.
int64_t wall_clock_us() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t coarse_mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
}  // namespace

uint32_t Tracker::now_s() const {
  const int64_t s = (coarse_mono_ns() - start_mono_ns_) / 1000000000;
  return s <= 0 ? 0 : s >= UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(s);
}

int64_t Tracker::now_ms() const { return (coarse_mono_ns() - start_mono_ns_) / 1000000; }

Tracker* create_tracker(const Options& opts, bool record_heap) {
  // Placement into static storage: the tracker must not come from the interposed malloc,
  // and a static object with a destructor would be torn down while other exit handlers
  // still allocate.
  auto* t = new (g_tracker_storage) Tracker();
  if (!t->init(opts)) return nullptr;
  detail::g_tracker.store(t, std::memory_order_release);
  if (record_heap) {
    detail::g_heap_tracker.store(t, std::memory_order_release);
    // From here on malloc and free reach it: the shortcut must send them there.
    if (t->sample_filter()) {
      detail::g_sample_filter = t->sample_filter();
      forward_bits_set(kSampled);  // after the filter pointer (seq_cst)
    }
    if (t->recording()) forward_bits_set(kEverRecorded | kRecording);
  }
  return t;
}

bool Tracker::init(const Options& opts) {
  opts_ = opts;
  start_mono_ns_ = coarse_mono_ns();
  unwind_init(opts_.verify_unwind);
  if (!stacks_.init(opts_.max_stacks, &arena_) || !ptrs_.init()) {
    log_line("cannot map memory for the tables; not tracking");
    return false;
  }
  if (opts_.sample_bytes) {
    filter_ = static_cast<std::atomic<uint16_t>*>(map_pages(kFilterSlots * sizeof(uint16_t)));
    if (!filter_) {
      log_line("cannot map memory for the sampling filter; not tracking");
      return false;
    }
  }
  if (opts_.enabled) ever_recorded_.store(true, std::memory_order_seq_cst);
  recording_.store(opts_.enabled, std::memory_order_seq_cst);
  recording_since_us_.store(wall_clock_us(), std::memory_order_relaxed);
  // Active even when dormant: the writer and the control socket run so recording can be
  // switched on later. A full table or an unmappable pointer map is a gap the snapshots
  // name (note_incomplete), never a reason to stop taking out frees.
  active_.store(true, std::memory_order_release);
  return true;
}

bool Tracker::set_recording(bool on) {
  // ever_recorded_ first: a thread that sees recording_ on and records a block must also see
  // ever_recorded_ on when that block is freed, or the free would skip the map.
  // The interposers' one-byte shortcut (forwarding.h) is set before recording starts and
  // cleared after it stopped. Only the tracker the allocation functions reach owns it.
  const bool owner = detail::g_heap_tracker.load(std::memory_order_acquire) == this;
  if (on && owner) forward_bits_set(kEverRecorded | kRecording);
  if (on) ever_recorded_.store(true, std::memory_order_seq_cst);
  const bool was = recording_.exchange(on, std::memory_order_seq_cst);
  if (!on && owner) forward_bits_clear(kRecording);
  if (was != on) {
    // Only the writer thread switches (control socket), so these need no ordering between
    // themselves; a snapshot racing a switch may pair the new state with the old time.
    const int64_t now = wall_clock_us();
    recording_since_us_.store(now, std::memory_order_relaxed);
    int64_t never = 0;
    recording_first_switch_us_.compare_exchange_strong(never, now, std::memory_order_relaxed);
  }
  return was;
}

void Tracker::note_incomplete(Gap gap, const char* why) {
  const int i = static_cast<int>(gap);
  if (gap_since_[i].load(std::memory_order_relaxed) != 0) return;
  const int saved_errno = errno;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t expected = 0;
  if (gap_since_[i].compare_exchange_strong(expected, now.tv_sec > 0 ? now.tv_sec : 1) && why)
    log_once(gap_said_[i], why);
  errno = saved_errno;
}

void Tracker::capture_and_record(const void* p, size_t size, const WalkStart* start) {
  const int saved_errno = errno;
  uintptr_t frames[kMaxDepth];
  bool truncated = false;
  uint32_t* hint = nullptr;
  int depth = capture_stack(frames, opts_.depth, &truncated, &hint, start);
  // Most allocations come from a stack seen before from the same frame: the walk cache
  // remembers which bucket that was, and a compare of the frames replaces hash and probe.
  Bucket* b = hint && size <= kMaxSize
                  ? stacks_.hinted(*hint, frames, static_cast<uint32_t>(depth), truncated)
                  : nullptr;
  if (!b) {
    b = intern(size, frames, depth, truncated);
    if (b && hint) *hint = b->index + 1;
  }
  if (b) record_bucket(p, size, b);
  errno = saved_errno;
}

void Tracker::record_alloc(const void* p, size_t size, const uintptr_t* frames, int depth,
                           bool truncated) {
  if (Bucket* b = intern(size, frames, depth, truncated)) record_bucket(p, size, b);
}

Bucket* Tracker::intern(size_t size, const uintptr_t* frames, int depth, bool truncated) {
  if (size > kMaxSize) {
    log_once(huge_said_, "an allocation of 256 GiB or more is not recorded");
    return nullptr;
  }
  Bucket* b = stacks_.intern(frames, static_cast<uint32_t>(depth), truncated);
  if (b) return b;
  // No room for this stack: the block is still counted (on the one line without frames) and
  // its free still taken out, so live figures stay true; only its stack is lost.
  note_incomplete(Gap::kStackTableFull,
                  "the stack table is full (LEAKPROBE_MAX_STACKS): blocks from new stacks are "
                  "counted on one line without a stack, and snapshots say stack-table-full");
  b = stacks_.overflow();
  if (!b)
    note_incomplete(Gap::kOutOfMemory,
                    "out of memory for the probe's tables: some blocks are not recorded, and "
                    "snapshots say out-of-memory");
  return b;
}

void Tracker::record_bucket(const void* p, size_t size, Bucket* b) {
  if (filter_) filter_slot(p).fetch_add(1, std::memory_order_relaxed);
  if (!ptrs_.insert(p, pack(b, size), now_s())) {
    if (filter_) filter_slot(p).fetch_sub(1, std::memory_order_relaxed);
    note_incomplete(Gap::kOutOfMemory,
                    "cannot grow the pointer map: some blocks are not recorded, and snapshots "
                    "say out-of-memory");
    return;
  }
  b->on_alloc(size, slack_of(p, size));
}

bool Tracker::record_free(const void* p) {
  if (filter_ && filter_slot(p).load(std::memory_order_relaxed) == 0) return false;
  return free_tracked(p);
}

bool Tracker::free_tracked(const void* p) {
  uint64_t v;
  if (!ptrs_.take(p, &v)) {
    count_unrecorded(p);  // still the caller's block: its usable size can be read
    return false;
  }
  if (filter_) filter_slot(p).fetch_sub(1, std::memory_order_relaxed);
  bucket_of(v)->on_free(size_of(v), slack_of(p, size_of(v)));
  return true;
}

Tracker::ReallocTicket Tracker::realloc_begin(const void* old) {
  ReallocTicket t;
  if (!ever_recorded()) return t;
  if (filter_ && filter_slot(old).load(std::memory_order_relaxed) == 0) return t;
  if (ptrs_.take(old, &t.old, &t.old_s)) {
    t.tracked = true;
    if (filter_) filter_slot(old).fetch_sub(1, std::memory_order_relaxed);
    bucket_of(t.old)->on_free(size_of(t.old), slack_of(old, size_of(t.old)));
  } else if (counts_unrecorded()) {
    // Counted once the real realloc has succeeded (realloc_end): a failed one leaves the
    // block where it was. Its usable size must be read now, while the block still exists.
    t.unrecorded = true;
    t.unrecorded_bytes = usable_size_ ? usable_size_(const_cast<void*>(old)) : 0;
  }
  return t;
}

void Tracker::realloc_end(const ReallocTicket& t, const void* old, const void* result, size_t size,
                          const WalkStart* start) {
  if (t.unrecorded && (result || size == 0)) {
    // A block from before the attach: the real realloc released it (moved or resized in
    // place); from here the result is a block of ours, recorded at this stack.
    Shared& c = unrecorded_[(reinterpret_cast<uintptr_t>(old) >> 4) % kUnrecordedShards];
    c.frees.fetch_add(1, std::memory_order_relaxed);
    c.bytes.fetch_add(t.unrecorded_bytes, std::memory_order_relaxed);
  }
  if (!result) {
    if (size == 0) return;  // glibc: realloc(p, 0) freed p and returns NULL
    // Failed: the old block is still the program's, exactly as before.
    if (t.tracked) {
      if (filter_) filter_slot(old).fetch_add(1, std::memory_order_relaxed);
      if (ptrs_.insert(old, t.old, t.old_s)) {
        bucket_of(t.old)->undo_free(size_of(t.old), slack_of(old, size_of(t.old)));
      } else {
        note_incomplete(Gap::kOutOfMemory,
                        "cannot grow the pointer map: some blocks are not recorded, and "
                        "snapshots say out-of-memory");
      }
    }
    return;
  }
  on_alloc(result, size, start);
}

void Tracker::note_attached(int64_t since_us, bool count_unrecorded) {
  for (Shared& c : unrecorded_) {
    c.frees.store(0, std::memory_order_relaxed);
    c.bytes.store(0, std::memory_order_relaxed);
  }
  count_unrecorded_.store(count_unrecorded, std::memory_order_relaxed);
  attached_since_us_.store(since_us ? since_us : wall_clock_us(), std::memory_order_relaxed);
}

Tracker::Unrecorded Tracker::unrecorded_frees() const {
  Unrecorded u{0, 0};
  for (const Shared& c : unrecorded_) {
    u.frees += c.frees.load(std::memory_order_relaxed);
    u.bytes += c.bytes.load(std::memory_order_relaxed);
  }
  return u;
}

void Tracker::forget_all_blocks() {
  lock_for_fork();
  ptrs_.clear_locked();
  if (filter_)
    for (size_t i = 0; i < kFilterSlots; ++i) filter_[i].store(0, std::memory_order_relaxed);
  // Buckets are shared with lock-free readers; only their atomic counters are written.
  for (Bucket* b = const_cast<Bucket*>(stacks_.first()); b; b = b->next) {
    b->alloc_objs.store(0, std::memory_order_relaxed);
    b->alloc_bytes.store(0, std::memory_order_relaxed);
    b->freed_objs.store(0, std::memory_order_relaxed);
    b->freed_bytes.store(0, std::memory_order_relaxed);
    b->live_slack.store(0, std::memory_order_relaxed);
  }
  unlock_after_fork();
}

uint64_t Tracker::probe_bytes() const { return mapped_bytes() + sizeof(Tracker); }

// Lock order: stack insert lock, then the arena (taken inside inserts), then the shards.
void Tracker::lock_for_fork() {
  stacks_.insert_lock().lock();
  arena_.lock().lock();
  ptrs_.lock_all();
}

void Tracker::unlock_after_fork() {
  ptrs_.unlock_all();
  arena_.lock().unlock();
  stacks_.insert_lock().unlock();
}

void Tracker::reset_after_fork_in_child() {
  ptrs_.reset_locks_in_child();
  arena_.lock().reset();
  arena_reset_after_fork_in_child();
  stacks_.insert_lock().reset();
}

}  // namespace leakprobe
