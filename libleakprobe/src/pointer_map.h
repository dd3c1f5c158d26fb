// Live allocation -> one 64-bit value (the tracker packs the stack's index and the requested
// size into it) and when it was allocated. Sharded by pointer hash, each shard an
// open-addressing table (linear probing, backward-shift deletion, so no tombstones pile up in
// a broker that runs for weeks) behind its own spinlock. 16-byte entries at a load factor
// between 3/8 and 3/4 cost 21-43 bytes per live allocation, and fewer cache misses than
// 24-byte entries did.
//
// The allocation time rides in the key's top 16 bits, so the age of live memory costs no
// byte: user-space addresses from malloc fit in 48 bits (x86-64 and arm64 hand out higher
// ones only to an mmap that asks for them; malloc never does), and keys are compared on
// those 48 bits only. The time is a stamp in units of 2^shift seconds since the probe
// started, the shift per shard: 1 s units for the first 18 hours, and when a stamp would not
// fit, that shard halves every stamp it holds (one pass under its own lock, at 18 h, 36 h,
// 73 h, ...) and doubles its unit. After a week a stamp is good to 16 s, plenty for ages
// bucketed by minute, hour and day (docs/snapshot-format.md, "Age of live memory").
#pragma once

#include <cstddef>
#include <cstdint>

#include "spinlock.h"

namespace leakprobe {

struct PtrEntry {
  uint64_t key;  // 0 = empty; low kKeyBits: the pointer, the bits above: the stamp
  uint64_t value;
};

class PointerMap {
 public:
  static constexpr int kShards = 64;
  static constexpr int kKeyBits = 48;
  static constexpr uint64_t kKeyMask = (uint64_t{1} << kKeyBits) - 1;
  static constexpr uint32_t kMaxStamp = 0xffff;  // 64 - kKeyBits bits

  bool init();
  // `alloc_s`: when p was allocated, seconds since the probe started (0 for tables that keep
  // no time). Keys must be non-zero in their low kKeyBits. False only if the table could
  // not grow (mmap failed).
  bool insert(const void* p, uint64_t value, uint32_t alloc_s = 0);
  // Removes p and returns its value (and its allocation time, rounded down to the shard's
  // unit); false if p is not tracked (allocated before the probe was enabled, by the probe
  // itself while guarded, or not sampled).
  bool take(const void* p, uint64_t* value, uint32_t* alloc_s = nullptr);
  size_t size() const;
  uint64_t table_bytes() const;

  // For the snapshot's age census: copies shard `i`'s live entries, packed, into `out`
  // under the shard's lock (a copy of the slot array, so malloc and free in that shard
  // wait only for a memcpy-speed pass, never for the census's work). Returns how many were
  // copied, or kTooSmall (copying nothing) if more than `cap` are live; `*shift` gets the
  // shard's stamp unit.
  static constexpr size_t kTooSmall = ~size_t{0};
  size_t copy_shard(int i, PtrEntry* out, size_t cap, unsigned* shift) const;
  // The entry count of shard `i` right now (unlocked: a sizing hint).
  size_t shard_size(int i) const { return __atomic_load_n(&shards_[i].count, __ATOMIC_RELAXED); }
  // When a copied entry was allocated: the start of its stamp's unit, seconds since start.
  static uint32_t alloc_s_of(const PtrEntry& e, unsigned shift) {
    return static_cast<uint32_t>(e.key >> kKeyBits) << shift;
  }

  // fork: hold every shard so the child never inherits a half-updated shard.
  void lock_all();
  void unlock_all();
  void reset_locks_in_child();
  // Empties every shard; the caller holds them all (lock_all). A new attach after a detach:
  // the blocks still listed were freed while the probe was not looking.
  void clear_locked();

  static uint64_t hash(uintptr_t p) {
    uint64_t h = p >> 4;  // malloc alignment: the low bits carry no information
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
  }

 private:
  struct alignas(64) Shard {
    mutable SpinLock lock;
    PtrEntry* slots = nullptr;
    size_t mask = 0;
    size_t count = 0;
    unsigned shift = 0;  // stamps count units of 2^shift seconds
  };
  static bool grow(Shard& s);
  // Doubles the shard's stamp unit until `alloc_s` fits a stamp (lock held).
  static void coarsen(Shard& s, uint32_t alloc_s);
  static Shard& shard_for(Shard* shards, uint64_t h) { return shards[h >> 58]; }

  Shard shards_[kShards];
};

}  // namespace leakprobe
