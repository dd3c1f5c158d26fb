// The frame walk (walk.h) over an array stack and a table of rules: no real stack, no
// .eh_frame, no LD_PRELOAD.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

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
  bool own() const { return true; }
  // The cache's plain loads must only ever touch words the walk could read.
  int bad_loads = 0;
  uintptr_t load(uintptr_t a) {
    uintptr_t v = 0;
    if (!read(a, &v)) ++bad_loads;
    return v;
  }
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

// The walk cache (WalkCache): a stack of synthetic frames in a larger array, built from the
// outermost frame down, so that two stacks can share their callers word for word. Functions
// differ in frame size and in what they do with RBP: leave it, save it (and use it as a
// general register: its value is junk), or use it as a frame pointer (CFA = RBP + 16).
struct Fn {
  uintptr_t base;  // its return addresses are base + 1 .. base + 15
  int32_t size;    // bytes from its CFA down to its sp at a call
  enum Rbp { kKept, kSaved, kFramePointer } rbp;
};

struct BigEnv {
  static constexpr int kWords = 1024;
  std::vector<uintptr_t> stack = std::vector<uintptr_t>(kWords, 0);
  std::map<uintptr_t, FrameRule> rules;
  uintptr_t probe_pc = 0;
  int reads = 0;

  uintptr_t addr(int word) const { return reinterpret_cast<uintptr_t>(&stack[word]); }
  uintptr_t& at(uintptr_t a) { return stack[(a - addr(0)) / sizeof(uintptr_t)]; }
  bool read(uintptr_t a, uintptr_t* v) {
    ++reads;
    if (a < addr(0) || a > addr(kWords - 1) || (a - addr(0)) % sizeof(uintptr_t)) return false;
    *v = at(a);
    return true;
  }
  void enter(uintptr_t) {}
  PackedRule rule(uintptr_t pc) {
    auto it = rules.upper_bound(pc);
    FrameRule r = kind(RuleKind::kUnsupported, RuleWhy::kNoFde);
    if (it != rules.begin()) {
      --it;
      if (pc - it->first < 0x100) r = it->second;
    }
    return rule_cache_detail::pack(r, pc);
  }
  bool skip(uintptr_t pc) const { return pc >= probe_pc && pc < probe_pc + 0x300; }
  bool own_stack = true;
  bool own() const { return own_stack; }
  // The cache's plain loads must only ever touch words the walk could read (not counted in
  // `reads`, which counts the checked ones).
  int bad_loads = 0;
  uintptr_t load(uintptr_t a) {
    if (a < addr(0) || a > addr(kWords - 1) || (a - addr(0)) % sizeof(uintptr_t)) {
      ++bad_loads;
      return 0;
    }
    return at(a);
  }
};

// Where a walk over a built stack starts: the probe's innermost frame, at an exact pc.
struct Start {
  uintptr_t pc, sp, bp;
};

class Stacks {
 public:
  explicit Stacks(uint64_t seed) : rng_(seed) {
    // The probe's two frames (a fixed shape, as in the real probe), then host functions.
    fns_.push_back(Fn{0x10000, 32, Fn::kSaved});  // the probe's innermost (exact pc)
    fns_.push_back(Fn{0x10100, 48, Fn::kKept});   // the probe's entry point
    env.probe_pc = 0x10000;
    for (int i = 0; i < 12; ++i) {
      const Fn::Rbp how = i % 4 == 1 ? Fn::kSaved : i % 4 == 3 ? Fn::kFramePointer : Fn::kKept;
      fns_.push_back(Fn{0x20000 + 0x100 * static_cast<uintptr_t>(i), 16 + 16 * (i % 5), how});
    }
    // A second entry point of the probe (calloc beside malloc): another frame size, and it
    // saves RBP. Walks through it have another chain of probe frames.
    fns_.push_back(Fn{0x10200, 64, Fn::kSaved});
    for (const Fn& f : fns_) {
      const bool fp = f.rbp == Fn::kFramePointer;
      env.rules[f.base] = normal(fp, fp ? 16 : f.size, f.rbp != Fn::kKept, -16);
    }
    env.rules[0x30000] = kind(RuleKind::kEnd);  // the thread's outermost function
  }

  // Lays out the outermost frame at the array's top, then `calls` (function index, call
  // site) outermost first, then the probe's frames; returns where the walk starts.
  // Frames above `keep` words from the top are left as they are (shared with the last stack).
  Start build(const std::vector<std::pair<int, int>>& calls, int top_word) {
    uintptr_t cfa = env.addr(top_word);
    uintptr_t ra = 0x30000 + 1;  // the outermost frame's caller: ends the walk
    uintptr_t bp = 0;            // RBP as the outermost frame has it
    std::vector<std::pair<int, int>> all = calls;
    all.push_back({entry, 3});  // the probe's entry point, called from the last host frame
    all.push_back({0, 0});      // the probe's innermost frame
    for (size_t i = 0; i < all.size(); ++i) {
      const Fn& f = fns_[static_cast<size_t>(all[i].first)];
      env.at(cfa - 8) = ra;
      if (f.rbp != Fn::kKept) {
        env.at(cfa - 16) = bp;  // the caller's RBP, saved
        bp = f.rbp == Fn::kFramePointer ? cfa - 16 : junk();
      }
      const uintptr_t sp = cfa - static_cast<uintptr_t>(f.size);
      ra = f.base + 1 + static_cast<uintptr_t>(all[i].second);
      if (i + 1 == all.size()) return Start{f.base, sp, bp};
      cfa = sp;
    }
    return Start{};
  }

  std::vector<std::pair<int, int>> random_calls(int n) {
    std::vector<std::pair<int, int>> calls;
    for (int i = 0; i < n; ++i) calls.push_back({2 + pick(12), pick(3)});
    return calls;
  }
  int pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  uintptr_t junk() { return rng_() | 1; }

  BigEnv env;
  int entry = 1;  // the probe's entry point build() lays out: 1, or kSecondEntry
  static constexpr int kSecondEntry = 14;

 private:
  std::mt19937_64 rng_;
  std::vector<Fn> fns_;
};

// The same walk without a cache: what the cached walk must give, frame for frame.
void expect_same_as_uncached(BigEnv& env, const Start& s, int depth, WalkCache* cache,
                             Walk* cached_out = nullptr) {
  uintptr_t want[kMaxDepth];
  uintptr_t got[kMaxDepth];
  const Walk plain = walk(env, s.pc, s.sp, s.bp, want, depth);
  const Walk cached = walk(env, s.pc, s.sp, s.bp, got, depth, cache);
  ASSERT_EQ(cached.n, plain.n);
  for (int i = 0; i < plain.n; ++i) ASSERT_EQ(got[i], want[i]) << "frame " << i;
  EXPECT_EQ(cached.truncated, plain.truncated);
  EXPECT_EQ(cached.stop, plain.stop);
  EXPECT_EQ(env.bad_loads, 0);
  if (cached_out) *cached_out = cached;
}

TEST(WalkCache, ASecondStackSharingItsCallersReusesThemAndGivesTheSameFrames) {
  Stacks st(1);
  WalkCache cache;
  std::vector<std::pair<int, int>> calls = st.random_calls(20);
  Walk first;
  expect_same_as_uncached(st.env, st.build(calls, 1000), kMaxDepth, &cache, &first);
  EXPECT_EQ(first.reused, 0);
  // Another leaf under the same 15 callers (the frames above are untouched).
  calls.resize(15);
  for (auto& c : st.random_calls(4)) calls.push_back(c);
  Walk second;
  expect_same_as_uncached(st.env, st.build(calls, 1000), kMaxDepth, &cache, &second);
  EXPECT_GE(second.reused, 10);
  EXPECT_LT(second.rules, first.rules - 10);
}

TEST(WalkCache, AReturnAddressThatChangedAboveIsNotTakenFromTheCache) {
  Stacks st(2);
  WalkCache cache;
  std::vector<std::pair<int, int>> calls = st.random_calls(20);
  expect_same_as_uncached(st.env, st.build(calls, 1000), kMaxDepth, &cache);
  // An outer caller returned and its caller called another site at the same depth: the
  // frames below are laid out again the same, but one return address above differs.
  calls[5].second = (calls[5].second + 1) % 3;
  Walk again;
  expect_same_as_uncached(st.env, st.build(calls, 1000), kMaxDepth, &cache, &again);
  EXPECT_GT(again.reused, 0);  // the frames below the change still came from the cache
}

TEST(WalkCache, TheProbesFramesAreReusedAtAnotherDepth) {
  Stacks st(3);
  WalkCache cache;
  expect_same_as_uncached(st.env, st.build(st.random_calls(6), 1000), kMaxDepth, &cache);
  // Nothing in common but the probe's own frames, 200 words lower.
  Walk w;
  expect_same_as_uncached(st.env, st.build(st.random_calls(6), 800), kMaxDepth, &cache, &w);
  EXPECT_EQ(w.reused, 0);
  uintptr_t out[kMaxDepth];
  const Start s = st.build(st.random_calls(6), 800);
  const Walk plain = walk(st.env, s.pc, s.sp, s.bp, out, kMaxDepth);
  const Walk cached = walk(st.env, s.pc, s.sp, s.bp, out, kMaxDepth, &cache);
  EXPECT_LT(cached.rules, plain.rules);  // the probe's steps were replayed, shifted
}

TEST(WalkCache, ManyRandomStacksAlwaysGiveWhatAnUncachedWalkGives) {
  // Stacks that share a random number of callers with the previous one, at a random depth,
  // sometimes moved, sometimes with an outer return address or saved RBP changed, with and
  // without depth cuts: every cached walk must equal the uncached one.
  Stacks st(4);
  WalkCache cache;
  std::vector<std::pair<int, int>> calls = st.random_calls(30);
  long reused = 0;
  long frames = 0;
  int top = 1000;
  uint32_t last_next = 0;
  int refills = 0;
  for (int round = 0; round < 3000; ++round) {
    const int keep = st.pick(static_cast<int>(calls.size()) + 1);
    calls.resize(static_cast<size_t>(keep));
    for (auto& c : st.random_calls(st.pick(40 - keep / 2 + 1))) calls.push_back(c);
    if (st.pick(10) == 0) top = 900 + st.pick(100);         // the whole stack elsewhere
    st.entry = st.pick(3) == 0 ? Stacks::kSecondEntry : 1;  // malloc mostly, calloc too
    const Start s = st.build(calls, top);
    if (st.pick(5) == 0 && calls.size() > 2) {
      // Overwrite one word somewhere in the stack: a return address or saved RBP changed
      // under the same layout (what a returned-and-called-again caller leaves).
      const int word = top - 1 - st.pick(static_cast<int>(calls.size()) * 4);
      st.env.stack[static_cast<size_t>(word)] ^= static_cast<uintptr_t>(16 << st.pick(3));
    }
    const int depth = st.pick(4) == 0 ? 1 + st.pick(40) : kMaxDepth;
    Walk w;
    expect_same_as_uncached(st.env, s, depth, &cache, &w);
    if (HasFailure()) {
      ADD_FAILURE() << "round " << round;
      return;
    }
    reused += w.reused;
    frames += w.n;
    if (cache.next < last_next) ++refills;
    last_next = cache.next;
  }
  EXPECT_GT(reused, frames / 4);  // the cache did something
  EXPECT_GE(refills, 3);          // and was emptied whole and filled again, several times
}

TEST(WalkCache, AWalkOffTheThreadsOwnStackNeitherRemembersNorJoins) {
  // A coroutine's or sigaltstack's stack may be unmapped before the next walk: the replay's
  // plain loads must never be pointed at it.
  Stacks st(7);
  WalkCache cache;
  const Start s = st.build(st.random_calls(12), 1000);
  st.env.own_stack = false;
  Walk first;
  expect_same_as_uncached(st.env, s, kMaxDepth, &cache, &first);
  EXPECT_EQ(cache.next, 0u);  // nothing remembered
  Walk second;
  expect_same_as_uncached(st.env, s, kMaxDepth, &cache, &second);
  EXPECT_EQ(second.reused, 0);
  st.env.own_stack = true;  // the same stack, now the thread's own: remembered, then reused
  expect_same_as_uncached(st.env, s, kMaxDepth, &cache, &first);
  expect_same_as_uncached(st.env, s, kMaxDepth, &cache, &second);
  EXPECT_GT(second.reused, 5);
}

TEST(WalkCache, EachEntryPointOfTheProbeKeepsItsOwnChainOfProbeFrames) {
  // malloc, then calloc, then malloc again at another depth: the third walk replays the probe's
  // frames of the first entry point (derives fewer steps than a walk with an empty cache),
  // and gives the same frames as an uncached walk.
  Stacks st(8);
  WalkCache cache;
  const auto calls = st.random_calls(6);
  expect_same_as_uncached(st.env, st.build(calls, 1000), kMaxDepth, &cache);
  st.entry = Stacks::kSecondEntry;
  expect_same_as_uncached(st.env, st.build(calls, 1000), kMaxDepth, &cache);
  st.entry = 1;
  const Start s = st.build(st.random_calls(6), 700);  // other callers, elsewhere: no pool help
  Walk cached;
  expect_same_as_uncached(st.env, s, kMaxDepth, &cache, &cached);
  WalkCache empty;
  uintptr_t out[kMaxDepth];
  const Walk cold = walk(st.env, s.pc, s.sp, s.bp, out, kMaxDepth, &empty);
  EXPECT_EQ(cached.rules, cold.rules - 2);  // the probe's two steps were replayed
}

TEST(WalkCache, ASignalFrameIsNeverRemembered) {
  // The signal test's stack, twice through one cache: the same frames both times, and the
  // second walk took none from the cache (nothing past the trampoline is recorded).
  ArrayEnv e;
  e.probe_pc = 0;
  e.rules[kStart] = normal(false, 16, false, 0);
  constexpr uintptr_t kRestorer = 0x5000;
  e.stack[1] = kRestorer;
  e.rules[kRestorer - 1] = kind(RuleKind::kSignal);
  const int gregs = 2 + 40 / 8;
  e.stack[gregs + 16] = kRa3;
  e.stack[gregs + 15] = e.addr(30);
  e.stack[gregs + 10] = 0;
  e.rules[kRa3] = kind(RuleKind::kEnd);
  WalkCache cache;
  for (int i = 0; i < 2; ++i) {
    uintptr_t out[8];
    Walk w = walk(e, kStart, e.addr(0), 0, out, 8, &cache);
    ASSERT_EQ(w.n, 2);
    EXPECT_EQ(out[0], kRestorer);
    EXPECT_EQ(out[1], kRa3);
    EXPECT_EQ(w.reused, 0);
  }
}

}  // namespace
}  // namespace leakprobe
