// The frame rules already compiled, by code address, shared by every thread without a lock.
//
// A malloc-heavy host unwinds the same few hundred call sites over and over; compiling a rule
// (FDE search, CIE/FDE decoding) costs ~1 us, a lookup here a multiply, two loads and two
// compares, inlined into the walk. Rules stay packed in one word (PackedRule) so the walk
// decodes only the bits it needs.
//
// Concurrency: a slot is two words written without a lock (key, then rule). A reader that
// races a writer of the same slot could pair one pc's key with another pc's rule; the rule
// word carries 16 bits of its own pc, so such a torn pair is taken for a miss except with
// probability 2^-16 -- and even then the walk stays safe, because every stack read is
// bounds-checked (unwind.cpp), only that one stack would be wrong.
// dlclose can put new code at an old address: the key includes a generation that
// rule_cache_invalidate() bumps, which makes every older rule a miss.
#pragma once

#include <atomic>
#include <cstdint>

#include "frame_rule.h"

namespace leakprobe {

// kind 2 bits | why 4 | cfa_from_bp 1 | bp_saved 1 | bp_offset 16 (signed) |
// cfa_offset 24 | pc tag 16.
using PackedRule = uint64_t;

namespace rule_bits {
inline RuleKind kind(PackedRule r) { return static_cast<RuleKind>(r & 3); }
inline RuleWhy why(PackedRule r) { return static_cast<RuleWhy>((r >> 2) & 15); }
inline bool cfa_from_bp(PackedRule r) { return (r >> 6) & 1; }
inline bool bp_saved(PackedRule r) { return (r >> 7) & 1; }
inline intptr_t bp_offset(PackedRule r) {
  return static_cast<int16_t>(static_cast<uint16_t>(r >> 8));
}
inline uintptr_t cfa_offset(PackedRule r) { return (r >> 24) & 0xffffff; }
inline uint64_t tag(uintptr_t pc) { return (pc & 0xffff) << 48; }
constexpr uint64_t kTagMask = uint64_t{0xffff} << 48;
}  // namespace rule_bits

namespace rule_cache_detail {
constexpr unsigned kSlotBits = 14;
struct alignas(16) Slot {
  std::atomic<uint64_t> key;  // pc | generation << 48; 0 = empty
  std::atomic<uint64_t> rule;
};
// In .bss: untouched pages cost nothing, and the walk needs no pointer load or null check.
extern Slot g_slots[1u << kSlotBits];
extern std::atomic<uint64_t> g_generation;  // already shifted: generation << 48
extern std::atomic<uint64_t> g_misses;      // rules compiled (rare: a shared add is fine)
// Out of line and cold: inlined (link-time optimisation did), the .eh_frame decoder's
// registers crowded the walk's loop into spilling its state on every frame.
__attribute__((noinline, cold)) PackedRule miss(uintptr_t pc, uint64_t key, Slot* s);
// The packed form of a rule for `pc` (a rule too big for it becomes unsupported).
PackedRule pack(const FrameRule& r, uintptr_t pc);
}  // namespace rule_cache_detail

// The rule for `pc` (a return address minus one, or an exact pc): cached, or compiled and
// cached.
inline PackedRule rule_for(uintptr_t pc) {
  using namespace rule_cache_detail;
  const uint64_t key = pc | g_generation.load(std::memory_order_relaxed);
  Slot* s = &g_slots[(pc * 0x9E3779B97F4A7C15ull) >> (64 - kSlotBits)];
  if (__builtin_expect(s->key.load(std::memory_order_acquire) == key, 1)) {
    const PackedRule r = s->rule.load(std::memory_order_relaxed);
    if ((r & rule_bits::kTagMask) == rule_bits::tag(pc)) return r;
  }
  return miss(pc, key, s);
}

// After a module was unloaded.
void rule_cache_invalidate();

// Changes whenever rule_cache_invalidate() ran: what was derived from older rules is stale.
inline uint64_t rule_cache_generation() {
  return rule_cache_detail::g_generation.load(std::memory_order_relaxed);
}

// Rules compiled since start-up (lookups that missed). Hits are counted by the callers, per
// thread: a shared counter on every lookup would cost more than the lookup.
inline uint64_t rule_cache_misses() {
  return rule_cache_detail::g_misses.load(std::memory_order_relaxed);
}

}  // namespace leakprobe
