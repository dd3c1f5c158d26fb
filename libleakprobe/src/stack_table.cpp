#include "stack_table.h"

#include <cstring>
#include <new>

namespace leakprobe {

namespace {

constexpr size_t kInitialSlots = 1024;

// The bucket holds exactly this stack.
bool holds(const Bucket* b, const uintptr_t* frames, uint32_t depth, bool truncated) {
  return b->depth == depth && b->truncated == (truncated ? 1u : 0u) &&
         memcmp(b->frames, frames, sizeof(uintptr_t) * depth) == 0;
}

bool same_stack(const Bucket* b, uint64_t h, const uintptr_t* frames, uint32_t depth,
                bool truncated) {
  return b->hash == h && holds(b, frames, depth, truncated);
}

}  // namespace

bool StackTable::init(size_t max_stacks, Arena* arena) {
  max_ = max_stacks;
  arena_ = arena;
  by_index_ = static_cast<std::atomic<Bucket*>*>(map_pages(max_stacks * sizeof(Bucket*)));
  if (!by_index_) return false;
  auto* t = static_cast<Slots*>(arena_->alloc(sizeof(Slots), alignof(Slots)));
  if (!t) return false;
  t->slot = static_cast<std::atomic<Bucket*>*>(map_pages(kInitialSlots * sizeof(Bucket*)));
  if (!t->slot) return false;
  t->mask = kInitialSlots - 1;
  slots_.store(t, std::memory_order_release);
  return true;
}

uint64_t StackTable::hash_frames(const uintptr_t* frames, uint32_t depth, bool truncated) {
  // Runs on every recorded allocation over up to LEAKPROBE_DEPTH frames, so it must cost few
  // instructions a frame: two xor-multiply chains (even and odd frames; two chains halve the
  // multiply latency in a row), three instructions a frame, then a full avalanche at the end.
  // Each step is a bijection of the running value for a given frame, so stacks that differ in
  // one frame never collide, and frames mix with their position, so the same frames in
  // another order do not either. (An earlier sum of `frame * C` depended only on the sum of
  // the addresses: 171 distinct hashes for 100k stacks.) Equal hashes are compared frame by
  // frame anyway (find).
  uint64_t a = 0x9e3779b97f4a7c15ull * (depth * 2 + (truncated ? 1 : 0) + 1);
  uint64_t b = a ^ 0x6a09e667f3bcc909ull;
  uint32_t i = 0;
  for (; i + 1 < depth; i += 2) {
    a = (a ^ frames[i]) * 0xff51afd7ed558ccdull;
    b = (b ^ frames[i + 1]) * 0xc4ceb9fe1a85ec53ull;
  }
  if (i < depth) a = (a ^ frames[i]) * 0xff51afd7ed558ccdull;
  uint64_t h = a ^ ((b << 31) | (b >> 33));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

Bucket* StackTable::find(const Slots* t, uint64_t h, const uintptr_t* frames, uint32_t depth,
                         bool truncated) {
  for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
    Bucket* b = t->slot[i].load(std::memory_order_acquire);
    if (!b) return nullptr;  // load <= 50%: an empty slot always ends the run
    if (same_stack(b, h, frames, depth, truncated)) return b;
  }
}

bool StackTable::grow() {
  const Slots* old = slots_.load(std::memory_order_relaxed);
  size_t cap = (old->mask + 1) * 2;
  auto* t = static_cast<Slots*>(arena_->alloc(sizeof(Slots), alignof(Slots)));
  if (!t) return false;
  t->slot = static_cast<std::atomic<Bucket*>*>(map_pages(cap * sizeof(Bucket*)));
  if (!t->slot) return false;
  t->mask = cap - 1;
  for (size_t i = 0; i <= old->mask; ++i) {
    Bucket* b = old->slot[i].load(std::memory_order_relaxed);
    if (!b) continue;
    size_t j = b->hash & t->mask;
    while (t->slot[j].load(std::memory_order_relaxed)) j = (j + 1) & t->mask;
    t->slot[j].store(b, std::memory_order_relaxed);
  }
  slots_.store(t, std::memory_order_release);
  return true;
}

Bucket* StackTable::hinted(uint32_t hint, const uintptr_t* frames, uint32_t depth,
                           bool truncated) const {
  if (hint == 0 || hint >= max_) return nullptr;  // (the last index is overflow()'s: never)
  Bucket* b = at(hint - 1);
  return b && holds(b, frames, depth, truncated) ? b : nullptr;
}

Bucket* StackTable::intern(const uintptr_t* frames, uint32_t depth, bool truncated) {
  const uint64_t h = hash_frames(frames, depth, truncated);
  if (Bucket* b = find(slots_.load(std::memory_order_acquire), h, frames, depth, truncated))
    return b;

  SpinGuard g(insert_lock_);
  // Another thread may have inserted it (or grown the array) since the lock-free look.
  Slots* t = slots_.load(std::memory_order_acquire);
  if (Bucket* b = find(t, h, frames, depth, truncated)) return b;
  size_t n = count_.load(std::memory_order_relaxed);
  if (n + 1 >= max_) return nullptr;  // the last index is overflow()'s
  if ((n + 1) * 2 > t->mask + 1) {
    if (!grow()) return nullptr;
    t = slots_.load(std::memory_order_relaxed);
  }
  Bucket* b = make_bucket(h, frames, depth, truncated, n);
  if (!b) return nullptr;
  size_t i = h & t->mask;
  while (t->slot[i].load(std::memory_order_relaxed)) i = (i + 1) & t->mask;
  // Release: a reader that sees the pointer sees the bucket's contents.
  t->slot[i].store(b, std::memory_order_release);
  head_.store(b, std::memory_order_release);
  count_.store(n + 1, std::memory_order_relaxed);
  return b;
}

Bucket* StackTable::make_bucket(uint64_t h, const uintptr_t* frames, uint32_t depth, bool truncated,
                                size_t index) {
  size_t bytes = offsetof(Bucket, frames) + sizeof(uintptr_t) * (depth ? depth : 1);
  bytes = (bytes + 63) & ~size_t{63};  // keep the next bucket's lines separate
  void* mem = arena_->alloc(bytes, alignof(Bucket));
  if (!mem) return nullptr;
  Bucket* b = new (mem) Bucket();
  b->hash = h;
  b->depth = depth;
  b->truncated = truncated ? 1 : 0;
  b->index = static_cast<uint32_t>(index);
  if (depth) memcpy(b->frames, frames, sizeof(uintptr_t) * depth);
  by_index_[index].store(b, std::memory_order_release);  // before any pointer-map entry names it
  b->next = head_.load(std::memory_order_relaxed);
  return b;
}

Bucket* StackTable::overflow() {
  if (Bucket* b = overflow_.load(std::memory_order_acquire)) return b;
  SpinGuard g(insert_lock_);
  if (Bucket* b = overflow_.load(std::memory_order_relaxed)) return b;
  Bucket* b = make_bucket(0, nullptr, 0, false, max_ - 1);
  if (!b) return nullptr;
  head_.store(b, std::memory_order_release);  // listed (the writer walks head_), never hashed
  overflow_.store(b, std::memory_order_release);
  return b;
}

}  // namespace leakprobe
