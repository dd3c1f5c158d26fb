#include "rule_cache.h"

namespace leakprobe {
namespace rule_cache_detail {

// Direct-mapped: 16k slots x 16 B = 256 KiB of address space, touched only where used.
Slot g_slots[1u << kSlotBits];
std::atomic<uint64_t> g_generation{uint64_t{1} << 48};
std::atomic<uint64_t> g_misses{0};

namespace {
constexpr uint32_t kMaxCfaOffset = (1u << 24) - 1;
}  // namespace

// A rule that does not fit the packed form is reported as unsupported (the walk stops there):
// frames of 16 MiB or more, or RBP saved farther than 32 KiB from the CFA.
PackedRule pack(const FrameRule& r, uintptr_t pc) {
  if (r.kind == RuleKind::kNormal &&
      (r.cfa_offset < 0 || static_cast<uint32_t>(r.cfa_offset) > kMaxCfaOffset ||
       r.bp_offset < INT16_MIN || r.bp_offset > INT16_MAX)) {
    FrameRule big;
    big.why = RuleWhy::kCfaExpression;
    return pack(big, pc);
  }
  return uint64_t{static_cast<uint8_t>(r.kind)} | uint64_t{static_cast<uint8_t>(r.why)} << 2 |
         uint64_t{r.cfa_from_bp} << 6 | uint64_t{r.bp_saved} << 7 |
         uint64_t{static_cast<uint16_t>(static_cast<int16_t>(r.bp_offset))} << 8 |
         uint64_t{static_cast<uint32_t>(r.cfa_offset) & kMaxCfaOffset} << 24 | rule_bits::tag(pc);
}

PackedRule miss(uintptr_t pc, uint64_t key, Slot* s) {
  g_misses.fetch_add(1, std::memory_order_relaxed);
  const PackedRule r = pack(compile_frame_rule(pc), pc);
  // Rule first, then the key that makes it visible (see the header on torn pairs).
  s->key.store(0, std::memory_order_relaxed);
  s->rule.store(r, std::memory_order_release);
  s->key.store(key, std::memory_order_release);
  return r;
}

}  // namespace rule_cache_detail

void rule_cache_invalidate() {
  rule_cache_detail::g_generation.fetch_add(uint64_t{1} << 48, std::memory_order_acq_rel);
}

}  // namespace leakprobe
