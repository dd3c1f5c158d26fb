#include "stack_cache.h"

#include <pthread.h>

#include "arena.h"
#include "guard.h"

namespace leakprobe {

struct StackCacheEntry {
  uintptr_t ra;
  uintptr_t cfa;      // 0: empty
  uintptr_t leaf_ra;  // RA0: the return address into the host's allocating function
  void* owner_data;   // the tracker's interned bucket for this stack, once known
  uint16_t nslots;
  uint16_t skip;
  uint16_t n;
  uint8_t depth;
  bool truncated;
  // Followed by slot addresses [max_slots], then slot values [max_slots].
};

// (ra, cfa) is the same for every host call site at the same stack position (20 sites at the
// same depth give the same SP), so the entry key also has RA0, the host's return address.
// Reaching it needs the size of the probe's own frames on this path: a hint remembers, per
// (ra, cfa), where RA0 sat last time. A wrong hint only costs a miss: entries are validated.
struct StackCacheHint {
  uintptr_t ra;
  uintptr_t cfa;
  uintptr_t leaf_offset;  // RA0's slot - cfa
};

struct ThreadStackCache {
  uintptr_t stack_hi;
  unsigned next_victim;
};

namespace {

// Set-associative, 4 ways: a host has hundreds of distinct (site, stack position) pairs per
// thread (the alloc benchmark ~620), and a miss costs a second, slower walk of the stack,
// so the table must hold them all. Only entries in use are backed by memory.
constexpr unsigned kWays = 4;
constexpr unsigned kSetBits = 10;
constexpr unsigned kEntries = kWays << kSetBits;
constexpr unsigned kHints = 1024;

bool g_enabled = false;
int g_max_slots = 0;
size_t g_entry_bytes = 0;
size_t g_table_bytes = 0;
pthread_key_t g_key;

enum : uint8_t { kUnset = 0, kReady = 1, kUnavailable = 2 };

// initial-exec TLS (see guard.h): only a pointer and the stack bounds.
__thread ThreadStackCache* t_cache __attribute__((tls_model("initial-exec"))) = nullptr;
__thread uintptr_t t_stack_lo __attribute__((tls_model("initial-exec"))) = 0;
__thread uintptr_t t_stack_hi __attribute__((tls_model("initial-exec"))) = 0;
__thread uint8_t t_state __attribute__((tls_model("initial-exec"))) = kUnset;

StackCacheHint* hint_at(ThreadStackCache* tc, uintptr_t ra, uintptr_t cfa) {
  uint64_t h = (ra * 0x9E3779B97F4A7C15ull) ^ (cfa * 0xC2B2AE3D27D4EB4Full);
  return reinterpret_cast<StackCacheHint*>(tc + 1) + (h >> 54) % kHints;
}

StackCacheEntry* entry_at(ThreadStackCache* tc, unsigned i) {
  char* base =
      reinterpret_cast<char*>(tc) + sizeof(ThreadStackCache) + kHints * sizeof(StackCacheHint);
  return reinterpret_cast<StackCacheEntry*>(base + i * g_entry_bytes);
}
uintptr_t* slot_addrs(StackCacheEntry* e) { return reinterpret_cast<uintptr_t*>(e + 1); }
uintptr_t* slot_vals(StackCacheEntry* e) { return slot_addrs(e) + g_max_slots; }

unsigned set_of(uintptr_t leaf_ra, uintptr_t cfa) {
  uint64_t h = (leaf_ra * 0x9E3779B97F4A7C15ull) ^ (cfa * 0xC2B2AE3D27D4EB4Full);
  return static_cast<unsigned>(h >> (64 - kSetBits)) * kWays;
}

// Thread exit: give the table back. The thread may still allocate in later destructors; it
// then goes uncached rather than mapping a new table that nobody would free.
void release(void* p) {
  t_state = kUnavailable;
  t_cache = nullptr;
  if (p) unmap_pages(p, g_table_bytes);
}

void setup_thread() {
  // pthread_getattr_np reads /proc/self/maps for the main thread and may allocate.
  Guard g;
  t_state = kUnavailable;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* addr = nullptr;
  size_t size = 0;
  int rc = pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  if (rc != 0 || !addr || !size) return;
  auto* tc = static_cast<ThreadStackCache*>(map_pages(g_table_bytes));
  if (!tc) return;
  if (pthread_setspecific(g_key, tc) != 0) {
    unmap_pages(tc, g_table_bytes);
    return;
  }
  t_stack_lo = reinterpret_cast<uintptr_t>(addr);
  t_stack_hi = t_stack_lo + size;
  tc->stack_hi = t_stack_hi;
  t_cache = tc;
  t_state = kReady;
}

}  // namespace

void stack_cache_init(bool enabled, int max_slots) {
  g_max_slots = max_slots;
  g_entry_bytes = sizeof(StackCacheEntry) + 2 * sizeof(uintptr_t) * static_cast<size_t>(max_slots);
  g_table_bytes =
      sizeof(ThreadStackCache) + kHints * sizeof(StackCacheHint) + kEntries * g_entry_bytes;
  g_enabled = enabled && pthread_key_create(&g_key, release) == 0;
}

ThreadStackCache* stack_cache_for(uintptr_t cfa) {
  if (t_state != kReady || cfa < t_stack_lo || cfa >= t_stack_hi) return nullptr;
  return t_cache;
}

bool stack_cache_thread_unset() { return g_enabled && t_state == kUnset; }

void stack_cache_setup_thread() {
  if (g_enabled && t_state == kUnset) setup_thread();
}

uintptr_t stack_cache_stack_top(const ThreadStackCache* tc) { return tc->stack_hi; }

bool stack_cache_lookup(ThreadStackCache* tc, uintptr_t ra, uintptr_t cfa, int depth,
                        uintptr_t* out, int* n, bool* truncated, void*** data) {
  const StackCacheHint* h = hint_at(tc, ra, cfa);
  if (h->cfa != cfa || h->ra != ra) return false;
  // The offset was checked when stored to keep the slot inside [cfa, stack top).
  const uintptr_t leaf_ra = *reinterpret_cast<const volatile uintptr_t*>(cfa + h->leaf_offset);
  const unsigned set = set_of(leaf_ra, cfa);
  StackCacheEntry* e = nullptr;
  for (unsigned w = 0; w < kWays; ++w) {
    StackCacheEntry* c = entry_at(tc, set + w);
    if (c->cfa == cfa && c->ra == ra && c->leaf_ra == leaf_ra && c->depth == depth) {
      e = c;
      break;
    }
  }
  if (!e) return false;
  const uintptr_t* addrs = slot_addrs(e);
  const uintptr_t* vals = slot_vals(e);
  // Every address was checked to lie in [cfa, stack top) of this thread when stored.
  for (int i = 0; i < e->nslots; ++i)
    if (*reinterpret_cast<const volatile uintptr_t*>(addrs[i]) != vals[i]) return false;
  for (int i = 0; i < e->n; ++i) out[i] = vals[e->skip + i];
  *n = e->n;
  *truncated = e->truncated;
  *data = &e->owner_data;
  return true;
}

void** stack_cache_store(ThreadStackCache* tc, uintptr_t ra, uintptr_t cfa, int depth,
                         const uintptr_t* slot_addr, const uintptr_t* slot_val, int nslots,
                         int skip, int n, bool truncated) {
  if (nslots < 1 || nslots > g_max_slots || depth > 255 || n < 1 || skip < 0 || skip + n > nslots)
    return nullptr;
  for (int i = 0; i < nslots; ++i) {
    uintptr_t a = slot_addr[i];
    if (a < cfa || a + sizeof(uintptr_t) > tc->stack_hi || (a & (sizeof(uintptr_t) - 1)))
      return nullptr;
  }
  const uintptr_t leaf_ra = slot_val[skip];
  StackCacheHint* h = hint_at(tc, ra, cfa);
  h->ra = ra;
  h->cfa = cfa;
  h->leaf_offset = slot_addr[skip] - cfa;
  const unsigned set = set_of(leaf_ra, cfa);
  StackCacheEntry* e = nullptr;
  for (unsigned w = 0; w < kWays && !e; ++w) {
    StackCacheEntry* c = entry_at(tc, set + w);
    if (c->cfa == 0 || (c->cfa == cfa && c->ra == ra && c->leaf_ra == leaf_ra)) e = c;
  }
  if (!e) e = entry_at(tc, set + (tc->next_victim++ % kWays));
  e->cfa = 0;  // invalid while being rewritten (only this thread reads it, but be plain)
  uintptr_t* addrs = slot_addrs(e);
  uintptr_t* vals = slot_vals(e);
  for (int i = 0; i < nslots; ++i) {
    addrs[i] = slot_addr[i];
    vals[i] = slot_val[i];
  }
  e->ra = ra;
  e->leaf_ra = leaf_ra;
  e->nslots = static_cast<uint16_t>(nslots);
  e->skip = static_cast<uint16_t>(skip);
  e->n = static_cast<uint16_t>(n);
  e->depth = static_cast<uint8_t>(depth);
  e->truncated = truncated;
  e->owner_data = nullptr;
  e->cfa = cfa;
  return &e->owner_data;
}

}  // namespace leakprobe
