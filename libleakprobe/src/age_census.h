// The age of live memory, per stack, counted when a snapshot is written
// (docs/snapshot-format.md, "Age of live memory").
//
// Each live block's allocation time rides in its pointer-map key (pointer_map.h), so the
// census is a pass over the map: one shard at a time, its live entries copied out under that
// shard's lock (so malloc and free in that shard wait only for the copy: ~0.1 ms per shard at
// 1M live blocks, 64 shards), then counted into per-stack figures with no lock held. The
// census keeps nothing between snapshots: its memory is mapped for the pass and unmapped.
// Allocation-free (mmap only), like the rest of the snapshot writer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "leakprobe/snapshot_format.h"

namespace leakprobe {

class Tracker;

// An earlier snapshot of this process image that later ones count survivors against.
struct AgeCutoff {
  unsigned sequence = 0;
  int64_t time_sec = 0, time_usec = 0;  // its leakprobe.time
  int64_t at_ms = 0;                    // Tracker::now_ms() when it was written
};

// The process's first snapshot and the most recent ones (format::kAgeMaxCutoffs in all),
// oldest first: a diff against any of them gets an exact "still live" share. Owned by the
// writer, under its mutex.
class AgeHistory {
 public:
  void add(const AgeCutoff& c);
  void reset() { n_ = 0; }  // a forked child starts its own sequence
  int size() const { return n_; }
  const AgeCutoff& at(int i) const { return c_[i]; }

 private:
  AgeCutoff c_[format::kAgeMaxCutoffs];
  int n_ = 0;
};

struct StackAge {
  uint64_t objs[format::kAgeBuckets];
  uint64_t bytes[format::kAgeBuckets];
  uint64_t byte_seconds;  // sum of size * age (saturating)
  uint64_t obj_seconds;   // sum of age
  uint64_t before_objs[format::kAgeMaxCutoffs];
  uint64_t before_bytes[format::kAgeMaxCutoffs];
  // Byte-weighted mean age in seconds (the object mean when no byte is live).
  uint64_t mean_s() const;
};

class AgeCensus {
 public:
  AgeCensus() = default;
  ~AgeCensus() { release(); }
  AgeCensus(const AgeCensus&) = delete;
  AgeCensus& operator=(const AgeCensus&) = delete;

  // Counts every live block of `t` by stack. False (and nothing to report: the snapshot then
  // says nothing about age) if its memory could not be mapped.
  bool take(const Tracker& t, const AgeHistory& history);
  // The figures of the stack with this index; nullptr if the census has none (not taken, or
  // a stack created after it began).
  const StackAge* of(uint32_t stack_index) const;
  // The coarsest unit an allocation time was kept in, seconds.
  uint32_t resolution_s() const { return resolution_s_; }
  int64_t now_ms() const { return now_ms_; }
  // What the census cost, CPU microseconds of the writing thread: all of it, and the longest
  // a single shard's lock was held (what a malloc or free in that shard may have waited).
  uint64_t cpu_us() const { return cpu_us_; }
  uint64_t max_hold_us() const { return max_hold_us_; }
  void release();

 private:
  StackAge* stats_ = nullptr;
  size_t stats_bytes_ = 0;
  size_t stacks_ = 0;  // stats_ holds stacks_ + 1 entries; the last: overflow's
  uint32_t overflow_index_ = 0;
  uint32_t resolution_s_ = 1;
  int64_t now_ms_ = 0;
  uint64_t cpu_us_ = 0;
  uint64_t max_hold_us_ = 0;
};

}  // namespace leakprobe
