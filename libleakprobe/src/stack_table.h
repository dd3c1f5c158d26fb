// Deduplicated call stacks. Each distinct stack gets one Bucket holding its counters; the
// pointer map points at buckets. Insert-only. Lookups are lock-free (a hash plus a few
// loads), so allocating threads never wait for each other or for the snapshot writer,
// which walks the bucket list while allocations continue. Inserting a new stack (rare
// after warm-up) takes a lock; the slot array starts small, so it stays in cache, and
// doubles at 50% load. Old arrays are never unmapped: a lock-free reader may still be in
// one, and it stays valid (every bucket it holds is also in the new array).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "arena.h"
#include "spinlock.h"

namespace leakprobe {

struct Bucket {
  // Read-mostly part: written once before the bucket is published.
  Bucket* next;  // list of all buckets, newest first, for the writer
  uint64_t hash;
  uint32_t depth;
  uint32_t truncated;  // 1 if the stack was cut at the configured depth
  uint32_t index;      // 0, 1, 2, ... in creation order; StackTable::at(index) finds it
  // Counters on their own cache line: every thread allocating from this stack updates them,
  // and sharing a line with `hash` made every lookup of a hot stack a cache miss. Live
  // counts are derived (allocated - freed) so that an allocation costs two atomic adds on
  // this contended line instead of four.
  alignas(64) std::atomic<uint64_t> alloc_objs{0};
  std::atomic<uint64_t> alloc_bytes{0};
  std::atomic<uint64_t> freed_objs{0};
  std::atomic<uint64_t> freed_bytes{0};
  // What malloc gave the live blocks beyond what they asked for (malloc_usable_size minus
  // the requested size), summed: the memory section's "usable" figure. Wraps as unsigned
  // while a free is counted before its allocation's add lands; the writer's sum is right.
  std::atomic<uint64_t> live_slack{0};
  alignas(64) uintptr_t frames[1];  // `depth` entries, leaf first (flexible)

  void on_alloc(uint64_t size, uint64_t slack = 0) {
    alloc_objs.fetch_add(1, std::memory_order_relaxed);
    alloc_bytes.fetch_add(size, std::memory_order_relaxed);
    if (slack) live_slack.fetch_add(slack, std::memory_order_relaxed);
  }
  void on_free(uint64_t size, uint64_t slack = 0) {
    freed_objs.fetch_add(1, std::memory_order_relaxed);
    freed_bytes.fetch_add(size, std::memory_order_relaxed);
    if (slack) live_slack.fetch_sub(slack, std::memory_order_relaxed);
  }
  // Undoes on_free (a failed realloc gives the block back).
  void undo_free(uint64_t size, uint64_t slack = 0) {
    freed_objs.fetch_sub(1, std::memory_order_relaxed);
    freed_bytes.fetch_sub(size, std::memory_order_relaxed);
    if (slack) live_slack.fetch_add(slack, std::memory_order_relaxed);
  }
  // Live counts at one moment. The freed counters are read first: every free follows its
  // allocation, so the result is never negative even while other threads run.
  struct Live {
    int64_t objs, bytes;
  };
  Live live() const {
    uint64_t fo = freed_objs.load(std::memory_order_acquire);
    uint64_t fb = freed_bytes.load(std::memory_order_acquire);
    uint64_t ao = alloc_objs.load(std::memory_order_acquire);
    uint64_t ab = alloc_bytes.load(std::memory_order_acquire);
    return Live{ao >= fo ? static_cast<int64_t>(ao - fo) : 0,
                ab >= fb ? static_cast<int64_t>(ab - fb) : 0};
  }
  int64_t live_objs() const { return live().objs; }
  int64_t live_bytes() const { return live().bytes; }
};

class StackTable {
 public:
  // Reserves room for `max_stacks` distinct stacks. False if the memory cannot be mapped.
  bool init(size_t max_stacks, Arena* arena);

  // The bucket for this stack, created on first sight. nullptr when the table is full or
  // the arena cannot grow (the caller may then count the block in overflow()).
  Bucket* intern(const uintptr_t* frames, uint32_t depth, bool truncated);

  // One bucket without frames for blocks whose stacks found no room: it takes the table's
  // last index (intern() keeps it free), is listed like any other bucket but never found by
  // intern(). Created on first use; nullptr if even that cannot be had.
  Bucket* overflow();

  // The bucket with index `hint` - 1 if it holds exactly this stack, else nullptr: what
  // intern() would return, without hashing or probing, when a caller remembers where the
  // same stack went last time (capture_stack's hint). Lock-free.
  Bucket* hinted(uint32_t hint, const uintptr_t* frames, uint32_t depth, bool truncated) const;

  // The bucket with this index (the pointer map stores indexes, which pack smaller than
  // pointers). Lock-free.
  Bucket* at(uint32_t index) const { return by_index_[index].load(std::memory_order_acquire); }

  // Newest first. Buckets never move or die, so the list can be walked at any time.
  const Bucket* first() const { return head_.load(std::memory_order_acquire); }
  size_t size() const { return count_.load(std::memory_order_relaxed); }

  static uint64_t hash_frames(const uintptr_t* frames, uint32_t depth, bool truncated);

  // fork: the child must not inherit the insert lock held.
  SpinLock& insert_lock() { return insert_lock_; }

 private:
  struct Slots {
    std::atomic<Bucket*>* slot;
    size_t mask;
  };
  static Bucket* find(const Slots* t, uint64_t h, const uintptr_t* frames, uint32_t depth,
                      bool truncated);
  bool grow();  // insert_lock_ held
  // A bucket at `index`, listed at head_'s place (the caller publishes head_). Lock held.
  Bucket* make_bucket(uint64_t h, const uintptr_t* frames, uint32_t depth, bool truncated,
                      size_t index);

  std::atomic<Slots*> slots_{nullptr};
  std::atomic<Bucket*>* by_index_ = nullptr;  // max_ entries, touched as they are used
  size_t max_ = 0;
  Arena* arena_ = nullptr;
  SpinLock insert_lock_;
  std::atomic<Bucket*> head_{nullptr};
  std::atomic<size_t> count_{0};
  std::atomic<Bucket*> overflow_{nullptr};
};

}  // namespace leakprobe
