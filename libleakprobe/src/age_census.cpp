#include "age_census.h"

#include <time.h>

#include "arena.h"
#include "pointer_map.h"
#include "tracker.h"

namespace leakprobe {

namespace fmt = format;

void AgeHistory::add(const AgeCutoff& c) {
  if (n_ < fmt::kAgeMaxCutoffs) {
    c_[n_++] = c;
    return;
  }
  // Keep the first (a diff against the process's first snapshot is the common one) and
  // slide the recent ones.
  for (int i = 1; i + 1 < n_; ++i) c_[i] = c_[i + 1];
  c_[n_ - 1] = c;
}

uint64_t StackAge::mean_s() const {
  uint64_t b = 0, o = 0;
  for (int i = 0; i < fmt::kAgeBuckets; ++i) {
    b += bytes[i];
    o += objs[i];
  }
  if (b) return byte_seconds / b;
  return o ? obj_seconds / o : 0;
}

namespace {
uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t add_sat(uint64_t a, uint64_t b) { return a + b < a ? ~uint64_t{0} : a + b; }
uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? ~uint64_t{0} : r;
}
}  // namespace

bool AgeCensus::take(const Tracker& t, const AgeHistory& history) {
  release();
  const uint64_t cpu0 = thread_cpu_ns();
  max_hold_us_ = 0;
  const PointerMap& map = t.pointers();
  stacks_ = t.stacks().size();
  overflow_index_ = static_cast<uint32_t>(t.options().max_stacks - 1);
  stats_bytes_ = (stacks_ + 1) * sizeof(StackAge);
  stats_ = static_cast<StackAge*>(map_pages(stats_bytes_));  // zero-filled
  if (!stats_) return false;

  size_t cap = 0;
  for (int i = 0; i < PointerMap::kShards; ++i)
    if (map.shard_size(i) > cap) cap = map.shard_size(i);
  cap += cap / 4 + 64;  // room for the shard to grow while we map
  auto* copy = static_cast<PtrEntry*>(map_pages(cap * sizeof(PtrEntry)));
  if (!copy) {
    release();
    return false;
  }

  now_ms_ = t.now_ms();
  const uint64_t now_s = now_ms_ > 0 ? static_cast<uint64_t>(now_ms_) / 1000 : 0;
  const int cutoffs = history.size();
  unsigned max_shift = 0;
  bool ok = true;
  for (int i = 0; i < PointerMap::kShards && ok; ++i) {
    unsigned shift = 0;
    const uint64_t hold0 = thread_cpu_ns();
    size_t n = map.copy_shard(i, copy, cap, &shift);
    const uint64_t hold_us = (thread_cpu_ns() - hold0) / 1000;
    if (hold_us > max_hold_us_) max_hold_us_ = hold_us;
    for (int tries = 0; n == PointerMap::kTooSmall && tries < 8; ++tries) {
      // The shard grew past the copy's room since we sized it: make more room, try again.
      unmap_pages(copy, cap * sizeof(PtrEntry));
      cap = map.shard_size(i) * 2 + 64;
      copy = static_cast<PtrEntry*>(map_pages(cap * sizeof(PtrEntry)));
      if (!copy) break;
      n = map.copy_shard(i, copy, cap, &shift);
    }
    if (!copy || n == PointerMap::kTooSmall) {
      ok = false;
      break;
    }
    if (shift > max_shift) max_shift = shift;
    const uint64_t unit_ms = (uint64_t{1} << shift) * 1000;
    for (size_t k = 0; k < n; ++k) {
      const PtrEntry& e = copy[k];
      const uint32_t index = t.stack_index_of(e.value);
      size_t slot;
      if (index < stacks_)
        slot = index;
      else if (index == overflow_index_)
        slot = stacks_;
      else
        continue;  // a stack newer than the census: not in this snapshot either
      StackAge& a = stats_[slot];
      const uint64_t size = Tracker::size_of(e.value);
      const uint64_t alloc_s = PointerMap::alloc_s_of(e, shift);
      const uint64_t age = now_s > alloc_s ? now_s - alloc_s : 0;
      const int b = fmt::age_bucket(age);
      a.objs[b] += 1;
      a.bytes[b] += size;
      a.byte_seconds = add_sat(a.byte_seconds, mul_sat(size, age));
      a.obj_seconds = add_sat(a.obj_seconds, age);
      // Surely before the cutoff only if its whole stamp unit ended by then: a block from
      // the cutoff's own unit (the same second, early on) counts as allocated after it.
      const uint64_t unit_end_ms = alloc_s * 1000 + unit_ms;
      for (int c = 0; c < cutoffs; ++c) {
        if (unit_end_ms <= static_cast<uint64_t>(history.at(c).at_ms)) {
          a.before_objs[c] += 1;
          a.before_bytes[c] += size;
        }
      }
    }
  }
  if (copy) unmap_pages(copy, cap * sizeof(PtrEntry));
  if (!ok) {
    release();
    return false;
  }
  resolution_s_ = 1u << max_shift;
  cpu_us_ = (thread_cpu_ns() - cpu0) / 1000;
  return true;
}

const StackAge* AgeCensus::of(uint32_t stack_index) const {
  if (!stats_) return nullptr;
  if (stack_index < stacks_) return &stats_[stack_index];
  if (stack_index == overflow_index_) return &stats_[stacks_];
  return nullptr;
}

void AgeCensus::release() {
  if (stats_) unmap_pages(stats_, stats_bytes_);
  stats_ = nullptr;
  stats_bytes_ = 0;
}

}  // namespace leakprobe
