// Deduplicated call stacks. Each distinct stack gets one Bucket holding its counters; the
// pointer map points at buckets. Insert-only and lock-free: a lookup is a hash plus a few
// loads, an insert one CAS, so allocating threads never wait for each other or for the
// snapshot writer, which walks the bucket list while allocations continue.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "arena.h"

namespace leakprobe {

struct Bucket {
  Bucket* next;  // list of all buckets, newest first, for the writer
  uint64_t hash;
  std::atomic<int64_t> live_objs{0};
  std::atomic<int64_t> live_bytes{0};
  std::atomic<uint64_t> alloc_objs{0};
  std::atomic<uint64_t> alloc_bytes{0};
  uint32_t depth;
  uint32_t truncated;  // 1 if the stack was cut at the configured depth
  uintptr_t frames[1];  // `depth` entries, leaf first (flexible)

  void on_alloc(uint64_t size) {
    live_objs.fetch_add(1, std::memory_order_relaxed);
    live_bytes.fetch_add(static_cast<int64_t>(size), std::memory_order_relaxed);
    alloc_objs.fetch_add(1, std::memory_order_relaxed);
    alloc_bytes.fetch_add(size, std::memory_order_relaxed);
  }
  void on_free(uint64_t size) {
    live_objs.fetch_sub(1, std::memory_order_relaxed);
    live_bytes.fetch_sub(static_cast<int64_t>(size), std::memory_order_relaxed);
  }
};

class StackTable {
 public:
  // Reserves room for `max_stacks` distinct stacks. False if the memory cannot be mapped.
  bool init(size_t max_stacks, Arena* arena);

  // The bucket for this stack, created on first sight. nullptr when the table is full or
  // the arena cannot grow: the caller reports it once and stops tracking.
  Bucket* intern(const uintptr_t* frames, uint32_t depth, bool truncated);

  // Newest first. Buckets never move or die, so the list can be walked at any time.
  const Bucket* first() const { return head_.load(std::memory_order_acquire); }
  size_t size() const { return count_.load(std::memory_order_relaxed); }

 private:
  static uint64_t hash_frames(const uintptr_t* frames, uint32_t depth, bool truncated);

  std::atomic<Bucket*>* slots_ = nullptr;
  size_t mask_ = 0;
  size_t max_ = 0;
  Arena* arena_ = nullptr;
  std::atomic<Bucket*> head_{nullptr};
  std::atomic<size_t> count_{0};
};

}  // namespace leakprobe
