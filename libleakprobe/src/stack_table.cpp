#include "stack_table.h"

#include <cstring>
#include <new>

namespace leakprobe {

bool StackTable::init(size_t max_stacks, Arena* arena) {
  // Open addressing at <= 50% load keeps probe sequences short.
  size_t cap = 1024;
  while (cap < max_stacks * 2) cap <<= 1;
  slots_ = static_cast<std::atomic<Bucket*>*>(map_pages(cap * sizeof(std::atomic<Bucket*>)));
  if (!slots_) return false;
  mask_ = cap - 1;
  max_ = max_stacks;
  arena_ = arena;
  return true;
}

uint64_t StackTable::hash_frames(const uintptr_t* frames, uint32_t depth, bool truncated) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ depth ^ (truncated ? 0x5555 : 0);
  for (uint32_t i = 0; i < depth; ++i) {
    h ^= frames[i];
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  return h;
}

Bucket* StackTable::intern(const uintptr_t* frames, uint32_t depth, bool truncated) {
  const uint64_t h = hash_frames(frames, depth, truncated);
  Bucket* fresh = nullptr;  // created at most once per call, reused if a CAS is lost
  for (size_t i = h & mask_, probes = 0; probes <= mask_; i = (i + 1) & mask_, ++probes) {
    Bucket* b = slots_[i].load(std::memory_order_acquire);
    if (!b) {
      if (!fresh) {
        if (count_.load(std::memory_order_relaxed) >= max_) return nullptr;
        size_t bytes = offsetof(Bucket, frames) + sizeof(uintptr_t) * (depth ? depth : 1);
        void* mem = arena_->alloc(bytes, alignof(Bucket));
        if (!mem) return nullptr;
        fresh = new (mem) Bucket();
        fresh->hash = h;
        fresh->depth = depth;
        fresh->truncated = truncated ? 1 : 0;
        memcpy(fresh->frames, frames, sizeof(uintptr_t) * depth);
      }
      if (slots_[i].compare_exchange_strong(b, fresh, std::memory_order_acq_rel)) {
        count_.fetch_add(1, std::memory_order_relaxed);
        Bucket* old_head = head_.load(std::memory_order_relaxed);
        do {
          fresh->next = old_head;
        } while (!head_.compare_exchange_weak(old_head, fresh, std::memory_order_release,
                                              std::memory_order_relaxed));
        return fresh;
      }
      // Lost the race: `b` now holds the winner; fall through and compare with it.
    }
    if (b->hash == h && b->depth == depth && b->truncated == (truncated ? 1u : 0u) &&
        memcmp(b->frames, frames, sizeof(uintptr_t) * depth) == 0) {
      return b;  // `fresh`, if any, stays in the arena unused: rare and bounded
    }
  }
  return nullptr;
}

}  // namespace leakprobe
