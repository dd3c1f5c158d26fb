#include "pointer_map.h"

#include "arena.h"

namespace leakprobe {
namespace {
constexpr size_t kInitialSlots = 256;
}

bool PointerMap::init() {
  for (Shard& s : shards_) {
    s.slots = static_cast<PtrEntry*>(map_pages(kInitialSlots * sizeof(PtrEntry)));
    if (!s.slots) return false;
    s.mask = kInitialSlots - 1;
    s.count = 0;
  }
  return true;
}

bool PointerMap::grow(Shard& s) {
  size_t old_cap = s.mask + 1;
  size_t cap = old_cap * 2;
  auto* slots = static_cast<PtrEntry*>(map_pages(cap * sizeof(PtrEntry)));
  if (!slots) return false;
  for (size_t i = 0; i < old_cap; ++i) {
    const PtrEntry& e = s.slots[i];
    if (!e.key) continue;
    size_t j = hash(e.key & kKeyMask) & (cap - 1);
    while (slots[j].key) j = (j + 1) & (cap - 1);
    slots[j] = e;
  }
  unmap_pages(s.slots, old_cap * sizeof(PtrEntry));
  s.slots = slots;
  s.mask = cap - 1;
  return true;
}

void PointerMap::coarsen(Shard& s, uint32_t alloc_s) {
  while ((alloc_s >> s.shift) > kMaxStamp) {
    ++s.shift;
    // floor(t / 2^(k+1)) == floor(floor(t / 2^k) / 2): halving keeps every stamp exact in
    // the new unit.
    for (size_t i = 0; i <= s.mask; ++i) {
      PtrEntry& e = s.slots[i];
      if (e.key) e.key = (e.key & kKeyMask) | (((e.key >> kKeyBits) >> 1) << kKeyBits);
    }
  }
}

bool PointerMap::insert(const void* p, uint64_t value, uint32_t alloc_s) {
  const uint64_t key = reinterpret_cast<uintptr_t>(p) & kKeyMask;
  const uint64_t h = hash(key);
  Shard& s = shard_for(shards_, h);
  SpinGuard g(s.lock);
  if ((s.count + 1) * 4 > (s.mask + 1) * 3 && !grow(s)) return false;
  if ((alloc_s >> s.shift) > kMaxStamp) coarsen(s, alloc_s);
  const uint64_t stamped = key | (uint64_t{alloc_s >> s.shift} << kKeyBits);
  size_t i = h & s.mask;
  while (s.slots[i].key && (s.slots[i].key & kKeyMask) != key) i = (i + 1) & s.mask;
  if (!s.slots[i].key) ++s.count;
  // An existing key means we missed its free (freed through a path we do not see, e.g. a
  // block the host released with a raw syscall); the new allocation wins.
  s.slots[i] = PtrEntry{stamped, value};
  return true;
}

bool PointerMap::take(const void* p, uint64_t* value, uint32_t* alloc_s) {
  const uint64_t key = reinterpret_cast<uintptr_t>(p) & kKeyMask;
  const uint64_t h = hash(key);
  Shard& s = shard_for(shards_, h);
  SpinGuard g(s.lock);
  size_t i = h & s.mask;
  while ((s.slots[i].key & kKeyMask) != key) {
    if (!s.slots[i].key) return false;
    i = (i + 1) & s.mask;
  }
  *value = s.slots[i].value;
  if (alloc_s) *alloc_s = alloc_s_of(s.slots[i], s.shift);
  // Backward-shift deletion: pull later members of the probe run into the hole.
  size_t hole = i;
  for (size_t j = (i + 1) & s.mask; s.slots[j].key; j = (j + 1) & s.mask) {
    size_t home = hash(s.slots[j].key & kKeyMask) & s.mask;
    // Move j into the hole unless its home lies cyclically in (hole, j].
    bool home_after_hole = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_after_hole) {
      s.slots[hole] = s.slots[j];
      hole = j;
    }
  }
  s.slots[hole] = PtrEntry{0, 0};
  --s.count;
  return true;
}

size_t PointerMap::copy_shard(int i, PtrEntry* out, size_t cap, unsigned* shift) const {
  const Shard& s = shards_[i];
  SpinGuard g(s.lock);
  if (s.count > cap) return kTooSmall;
  size_t n = 0;
  for (size_t j = 0; j <= s.mask; ++j)
    if (s.slots[j].key) out[n++] = s.slots[j];
  *shift = s.shift;
  return n;
}

size_t PointerMap::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) n += s.count;
  return n;
}

uint64_t PointerMap::table_bytes() const {
  uint64_t n = 0;
  for (const Shard& s : shards_) n += (s.mask + 1) * sizeof(PtrEntry);
  return n;
}

void PointerMap::lock_all() {
  for (Shard& s : shards_) s.lock.lock();
}
void PointerMap::unlock_all() {
  for (Shard& s : shards_) s.lock.unlock();
}
void PointerMap::clear_locked() {
  for (Shard& s : shards_) {
    for (size_t i = 0; i <= s.mask; ++i) s.slots[i] = PtrEntry{0, 0};
    s.count = 0;
  }
}

void PointerMap::reset_locks_in_child() {
  for (Shard& s : shards_) s.lock.reset();
}

}  // namespace leakprobe
