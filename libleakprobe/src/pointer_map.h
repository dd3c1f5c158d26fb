// Live allocation -> (bucket, requested size). Sharded by pointer hash, each shard an
// open-addressing table (linear probing, backward-shift deletion, so no tombstones pile up
// in a broker that runs for weeks) behind its own spinlock. 24-byte entries at a load
// factor between 3/8 and 3/4 keep the cost at <= 64 bytes per live allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "spinlock.h"

namespace leakprobe {

struct Bucket;

struct PtrEntry {
  uintptr_t key;  // 0 = empty
  Bucket* bucket;
  uint64_t size;
};

class PointerMap {
 public:
  static constexpr int kShards = 64;

  bool init();
  // False only if the table could not grow (mmap failed).
  bool insert(const void* p, Bucket* bucket, uint64_t size);
  // Removes p and fills `out`; false if p is not tracked (allocated before the probe was
  // enabled, by the probe itself while guarded, or not sampled).
  bool take(const void* p, PtrEntry* out);
  size_t size() const;
  uint64_t table_bytes() const;

  // fork: hold every shard so the child never inherits a half-updated shard.
  void lock_all();
  void unlock_all();
  void reset_locks_in_child();

  static uint64_t hash(uintptr_t p) {
    uint64_t h = p >> 4;  // malloc alignment: the low bits carry no information
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
  }

 private:
  struct alignas(64) Shard {
    SpinLock lock;
    PtrEntry* slots = nullptr;
    size_t mask = 0;
    size_t count = 0;
  };
  static bool grow(Shard& s);
  static Shard& shard_for(Shard* shards, uint64_t h) { return shards[h >> 58]; }

  Shard shards_[kShards];
};

}  // namespace leakprobe
