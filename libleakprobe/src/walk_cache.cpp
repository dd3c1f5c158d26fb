#include "walk_cache.h"

#include <atomic>

#include "arena.h"
#include "thread_exit.h"

namespace leakprobe {
namespace {

constexpr int kSlots = 256;
static_assert(sizeof(WalkCache) <= 12288, "a cache fits three pages");

std::atomic<bool> g_exit_hook{false};       // the probe's thread-exit key is there (thread_exit.h)
std::atomic<WalkCache*> g_caches{nullptr};  // kSlots caches, mapped at the first claim
std::atomic<bool> g_mapping{false};         // one thread maps, the others walk uncached meanwhile
std::atomic<uint8_t> g_used[kSlots];

// nullptr: not claimed yet; kNone: none to be had (all taken, or the thread is exiting).
WalkCache* const kNone = reinterpret_cast<WalkCache*>(uintptr_t{1});
__thread WalkCache* t_cache __attribute__((tls_model("initial-exec"))) = nullptr;

int slot_of(const WalkCache* c) {
  return static_cast<int>(c - g_caches.load(std::memory_order_acquire));
}

// The thread's hook in the probe's one thread-exit key (thread_exit.h).
void on_thread_exit(void* p) {
  // A free of the thread's own after this walks uncached (no second claim from a destructor).
  t_cache = kNone;
  g_used[slot_of(static_cast<WalkCache*>(p))].store(0, std::memory_order_release);
}

WalkCache* claim() {
  // Without a way to give the slot back, a thread does not take one.
  if (!g_exit_hook.load(std::memory_order_acquire)) return kNone;
  WalkCache* caches = g_caches.load(std::memory_order_acquire);
  if (!caches) {
    bool expected = false;
    if (!g_mapping.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
      return nullptr;  // another thread is mapping: ask again next time
    caches = static_cast<WalkCache*>(map_pages(sizeof(WalkCache) * kSlots));
    if (!caches) return kNone;  // g_mapping stays set: nobody tries again
    g_caches.store(caches, std::memory_order_release);
  }
  for (int i = 0; i < kSlots; ++i) {
    uint8_t free_slot = 0;
    if (g_used[i].load(std::memory_order_relaxed) == 0 &&
        g_used[i].compare_exchange_strong(free_slot, 1, std::memory_order_acquire)) {
      WalkCache* c = &caches[i];
      c->clear();
      if (!thread_exit_set(ThreadExitHook::kWalkCache, c)) {
        g_used[i].store(0, std::memory_order_release);
        return kNone;
      }
      return c;
    }
  }
  return kNone;
}

}  // namespace

void walk_cache_init() {
  if (g_exit_hook.load(std::memory_order_relaxed)) return;
  thread_exit_register(ThreadExitHook::kWalkCache, on_thread_exit);
  if (thread_exit_init()) g_exit_hook.store(true, std::memory_order_release);
}

int walk_cache_slots_used() {
  int n = 0;
  for (int i = 0; i < kSlots; ++i) n += g_used[i].load(std::memory_order_relaxed);
  return n;
}

WalkCache* thread_walk_cache() {
  WalkCache* c = t_cache;
  if (__builtin_expect(c != nullptr, 1)) return c == kNone ? nullptr : c;
  c = claim();
  if (c) t_cache = c;
  return c == kNone ? nullptr : c;
}

void walk_cache_after_fork_in_child() {
  WalkCache* mine = t_cache;
  const int keep = mine && mine != kNone ? slot_of(mine) : -1;
  for (int i = 0; i < kSlots; ++i)
    if (i != keep) g_used[i].store(0, std::memory_order_relaxed);
}

}  // namespace leakprobe
