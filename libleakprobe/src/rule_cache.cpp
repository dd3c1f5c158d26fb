#include "rule_cache.h"

#include <atomic>

#include "arena.h"

namespace leakprobe {
namespace {

// Direct-mapped: 16k slots x 32 B = 512 KiB of address space, touched only where used.
constexpr unsigned kSlotBits = 14;
constexpr unsigned kSlots = 1u << kSlotBits;

struct alignas(32) Slot {
  std::atomic<uint64_t> seq;  // odd while being written
  std::atomic<uint64_t> pc;
  std::atomic<uint64_t> rule;  // packed FrameRule and the generation it was compiled in
};

Slot* g_slots = nullptr;
std::atomic<uint32_t> g_generation{1};

// Packed rule: kind 2 bits, why 4, cfa_from_bp 1, bp_saved 1, generation 16, bp_offset 16
// (signed), cfa_offset 24. A rule that does not fit is not cached (compiled each time).
constexpr int32_t kMaxCachedCfaOffset = (1 << 24) - 1;

bool fits(const FrameRule& r) {
  return r.cfa_offset >= 0 && r.cfa_offset <= kMaxCachedCfaOffset && r.bp_offset >= INT16_MIN &&
         r.bp_offset <= INT16_MAX;
}

uint64_t pack(const FrameRule& r, uint32_t gen) {
  return uint64_t{static_cast<uint8_t>(r.kind)} | uint64_t{static_cast<uint8_t>(r.why)} << 2 |
         uint64_t{r.cfa_from_bp} << 6 | uint64_t{r.bp_saved} << 7 | uint64_t{gen & 0xffffu} << 8 |
         uint64_t{static_cast<uint16_t>(static_cast<int16_t>(r.bp_offset))} << 24 |
         uint64_t{static_cast<uint32_t>(r.cfa_offset)} << 40;
}

FrameRule unpack(uint64_t v) {
  FrameRule r;
  r.kind = static_cast<RuleKind>(v & 3);
  r.why = static_cast<RuleWhy>((v >> 2) & 15);
  r.cfa_from_bp = (v >> 6) & 1;
  r.bp_saved = (v >> 7) & 1;
  r.bp_offset = static_cast<int16_t>(static_cast<uint16_t>(v >> 24));
  r.cfa_offset = static_cast<int32_t>(v >> 40);
  return r;
}

uint32_t generation_of(uint64_t v) { return static_cast<uint32_t>((v >> 8) & 0xffff); }

Slot& slot_for(uintptr_t pc) {
  return g_slots[(pc * 0x9E3779B97F4A7C15ull) >> (64 - kSlotBits)];
}

}  // namespace

bool rule_cache_init() {
  if (!g_slots) g_slots = static_cast<Slot*>(map_pages(sizeof(Slot) * kSlots));
  return g_slots != nullptr;
}

FrameRule rule_for(uintptr_t pc) {
  if (!g_slots) return compile_frame_rule(pc);
  const uint32_t gen = g_generation.load(std::memory_order_acquire) & 0xffff;
  Slot& s = slot_for(pc);
  const uint64_t seq = s.seq.load(std::memory_order_acquire);
  if (!(seq & 1)) {
    const uint64_t key = s.pc.load(std::memory_order_relaxed);
    const uint64_t v = s.rule.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (key == pc && generation_of(v) == gen && s.seq.load(std::memory_order_relaxed) == seq)
      return unpack(v);
  }
  FrameRule r = compile_frame_rule(pc);
  // Publish unless another thread is writing this slot right now (then it simply stays a miss).
  uint64_t expected = seq & ~uint64_t{1};
  if (fits(r) && s.seq.compare_exchange_strong(expected, expected + 1, std::memory_order_acquire)) {
    std::atomic_thread_fence(std::memory_order_release);
    s.pc.store(pc, std::memory_order_relaxed);
    s.rule.store(pack(r, gen), std::memory_order_relaxed);
    s.seq.store(expected + 2, std::memory_order_release);
  }
  return r;
}

void rule_cache_invalidate() { g_generation.fetch_add(1, std::memory_order_acq_rel); }

}  // namespace leakprobe
