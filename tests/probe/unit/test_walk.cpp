// The frame walk (walk.h) over an array stack and a table of rules: no real stack, no
// .eh_frame, no LD_PRELOAD.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>

#include "rule_cache.h"
#include "walk.h"

namespace leakprobe {
namespace {

FrameRule normal(bool from_bp, int32_t cfa_offset, bool bp_saved, int32_t bp_offset) {
  FrameRule r;
  r.kind = RuleKind::kNormal;
  r.cfa_from_bp = from_bp;
  r.cfa_offset = cfa_offset;
  r.bp_saved = bp_saved;
  r.bp_offset = bp_offset;
  return r;
}

FrameRule kind(RuleKind k, RuleWhy why = RuleWhy::kNone) {
  FrameRule r;
  r.kind = k;
  r.why = why;
  return r;
}

// Stack words in an array; rules by the pc the walk asks for (exact pc, or return address - 1).
struct ArrayEnv {
  uintptr_t stack[32] = {};
  std::map<uintptr_t, FrameRule> rules;
  uintptr_t probe_pc = 0;  // frames at this pc count as the probe's own

  uintptr_t addr(int word) const { return reinterpret_cast<uintptr_t>(&stack[word]); }
  bool read(uintptr_t a, uintptr_t* v) {
    if (a < addr(0) || a > addr(31) || (a - addr(0)) % sizeof(uintptr_t)) return false;
    *v = stack[(a - addr(0)) / sizeof(uintptr_t)];
    return true;
  }
  void enter(uintptr_t) {}
  PackedRule rule(uintptr_t pc) {
    auto it = rules.find(pc);
    FrameRule r = it == rules.end() ? kind(RuleKind::kUnsupported, RuleWhy::kNoFde) : it->second;
    return rule_cache_detail::pack(r, pc);
  }
  bool skip(uintptr_t pc) const { return pc == probe_pc; }
};

constexpr uintptr_t kStart = 0x1000;    // the probe frame the walk starts in (exact pc)
constexpr uintptr_t kProbeRa = 0x1100;  // a return address into the probe (dropped)
constexpr uintptr_t kRa1 = 0x2000;      // the host: a frame without frame pointer
constexpr uintptr_t kRa2 = 0x3000;      // a frame with one
constexpr uintptr_t kRa3 = 0x4000;      // the outermost frame

// stack[0..1]: the probe frame (CFA = rsp+16, return address at CFA-8 = stack[1]);
// stack[2..3]: the probe's caller frame (push rbp: rbp at CFA-16 = stack[2], RA stack[3]);
// stack[4..7]: a frame without frame pointer, 32 bytes (RA at stack[7]);
// stack[8..9]: a frame pointer frame: CFA = rbp+16 where rbp = &stack[8].
ArrayEnv make_env() {
  ArrayEnv e;
  e.probe_pc = kProbeRa;
  e.rules[kStart] = normal(false, 16, false, 0);
  e.stack[1] = kProbeRa;
  e.rules[kProbeRa - 1] = normal(false, 16, true, -16);
  e.stack[2] = e.addr(8);  // the caller's rbp, saved by the probe frame
  e.stack[3] = kRa1;
  e.rules[kRa1 - 1] = normal(false, 32, false, 0);
  e.stack[7] = kRa2;
  e.rules[kRa2 - 1] = normal(true, 16, true, -16);
  e.stack[8] = 0;  // outermost rbp
  e.stack[9] = kRa3;
  e.rules[kRa3 - 1] = kind(RuleKind::kEnd);
  return e;
}

TEST(Walk, ArrayStackDropsTheProbeAndFollowsBothFrameKinds) {
  ArrayEnv e = make_env();
  uintptr_t out[8];
  Walk w = walk(e, kStart, e.addr(0), /*bp=*/0, out, 8);
  ASSERT_EQ(w.n, 3);
  EXPECT_EQ(out[0], kRa1);
  EXPECT_EQ(out[1], kRa2);
  EXPECT_EQ(out[2], kRa3);
  EXPECT_FALSE(w.truncated);
  EXPECT_EQ(w.stop, Stop::kEnd);
  EXPECT_EQ(w.rules, 5);  // start, probe caller, three host frames (the last ends the walk)
}

TEST(Walk, DepthCutsAndSaysSo) {
  ArrayEnv e = make_env();
  uintptr_t out[2];
  Walk w = walk(e, kStart, e.addr(0), 0, out, 2);
  ASSERT_EQ(w.n, 2);
  EXPECT_EQ(out[1], kRa2);
  EXPECT_TRUE(w.truncated);
  EXPECT_EQ(w.stop, Stop::kDepth);
}

TEST(Walk, UnsupportedRuleStopsWithItsReason) {
  ArrayEnv e = make_env();
  e.rules[kRa2 - 1] = kind(RuleKind::kUnsupported, RuleWhy::kCfaExpression);
  uintptr_t out[8];
  Walk w = walk(e, kStart, e.addr(0), 0, out, 8);
  EXPECT_EQ(w.n, 2);  // kRa1, kRa2: the frame whose rule is unknown is still reported
  EXPECT_EQ(w.stop, Stop::kRule);
  EXPECT_EQ(w.why, RuleWhy::kCfaExpression);
}

TEST(Walk, StackOutsideTheReaderStops) {
  ArrayEnv e = make_env();
  e.rules[kRa1 - 1] = normal(false, 4096, false, 0);  // a frame reaching past the array
  uintptr_t out[8];
  Walk w = walk(e, kStart, e.addr(0), 0, out, 8);
  EXPECT_EQ(w.n, 1);
  EXPECT_EQ(w.stop, Stop::kUnknownStack);
}

TEST(Walk, AFrameThatDoesNotClimbStops) {
  ArrayEnv e = make_env();
  e.stack[2] = e.addr(0);  // the saved rbp points below the frame using it
  uintptr_t out[8];
  Walk w = walk(e, kStart, e.addr(0), 0, out, 8);
  EXPECT_EQ(w.stop, Stop::kBadFrame);
  EXPECT_EQ(w.n, 2);
}

TEST(Walk, SignalFrameTakesRegistersFromTheUcontext) {
  // A signal trampoline at the probe's caller: rip/rsp/rbp come from the ucontext at rsp.
  ArrayEnv e;
  e.probe_pc = 0;
  e.rules[kStart] = normal(false, 16, false, 0);
  constexpr uintptr_t kRestorer = 0x5000;
  e.stack[1] = kRestorer;
  e.rules[kRestorer - 1] = kind(RuleKind::kSignal);
  // The ucontext starts at stack[2] (CFA of the first frame); gregs at byte 40.
  const int gregs = 2 + 40 / 8;
  e.stack[gregs + 16] = kRa3;            // REG_RIP
  e.stack[gregs + 15] = e.addr(30);      // REG_RSP
  e.stack[gregs + 10] = 0;               // REG_RBP
  e.rules[kRa3] = kind(RuleKind::kEnd);  // an interrupted pc is exact: no -1
  uintptr_t out[8];
  Walk w = walk(e, kStart, e.addr(0), 0, out, 8);
  ASSERT_EQ(w.n, 2);
  EXPECT_EQ(out[0], kRestorer);
  EXPECT_EQ(out[1], kRa3);
  EXPECT_EQ(w.stop, Stop::kEnd);
}

}  // namespace
}  // namespace leakprobe
