// The frame walk itself, a template over where it reads stack memory and frame rules from:
// the probe instantiates it over the thread's stack and the shared rule cache (unwind.cpp), a
// unit test over an array stack and a table of rules (tests/probe/unit/test_walk.cpp).
//
// With a WalkCache (one per thread), the walk remembers the states it passed through and, on
// the next walk, stops deriving frames as soon as it reaches a state the previous walk also
// passed through: consecutive allocations of a thread share most of their callers, and a
// remembered frame costs two loads and two compares instead of a rule lookup and a step.
// This is framehop's and libunwind's idea of caching, made safe without touching the host's
// stack (bytehound's shadow stack rewrites return addresses, which a C++ exception or a
// longjmp would then have to know about): see WalkCache.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rule_cache.h"

namespace leakprobe {

inline constexpr int kMaxDepth = 128;

// A frame walk never takes more steps than this (probe frames + depth + slack).
inline constexpr int kMaxWalkSteps = kMaxDepth + 16;
// Signal frames may move the walk to another stack (a sigaltstack handler's frames, then the
// interrupted code's); a few such hops at most.
inline constexpr int kMaxStackHops = 4;

enum class Stop { kEnd, kDepth, kRule, kUnknownStack, kBadFrame };

struct Walk {
  int n = 0;
  bool truncated = false;
  Stop stop = Stop::kEnd;
  RuleWhy why = RuleWhy::kNone;
  int rules = 0;   // rules looked up
  int reused = 0;  // frames taken from the walk cache (verified, not derived)
};

// One state of a walk: the registers it tracks in a frame, and how the step out of that
// frame went: where it read the caller's RBP (0: RBP was left as it is) | 1 if its CFA came
// from RBP. A state's `step` is written when its step is taken.
struct CachedState {
  uintptr_t pc;  // a return address (every state but a walk's first)
  uintptr_t sp;
  uintptr_t bp;
  uintptr_t step;
};

// Chains of states earlier walks of a thread passed through, stored root first: states[i+1]
// and states[i] were consecutive states of one walk (states[i] the caller's), so each entry's
// `step` says how that walk stepped from it to the entry below. states[hi - 1] is the previous
// walk's first state, and the `prefix` entries below it the probe's own frames.
//
// Why reuse is exact: a step is a function of the state (pc, sp, bp), the frame rule for pc
// and the stack words it reads (the return address at CFA-8 and, for some rules, the saved
// RBP). So a remembered step is a memo that stays true: from a state with the same pc and sp
// (and RBP, when the CFA comes from RBP), the step lands at the same CFA and reads the same
// slots. When the new walk reaches a remembered state, it takes the remembered steps upwards
// for as long as the return address slot still holds the remembered caller: one or two loads
// a frame instead of a rule lookup and a derivation. The first slot that changed (the caller
// returned and another call took its place) ends the reuse, and the walk derives the rest as
// usual.
// The same holds shifted: the probe's own frames sit at the same distances from the walk's
// first state whatever the host's stack depth, so the `prefix` steps are checked at the
// remembered offsets from the new starting sp (a CFA from RBP must then be shifted alike).
// The rules must be the same too: the owner empties the cache when the rule cache's
// generation changed (a module was unloaded).
inline constexpr int kCacheStates = 120;
struct WalkCache {
  uint64_t tag = 0;  // the owner's: what the states also depend on (the rules' generation)
  int lo = 0;        // states[lo, hi) hold the chains
  int hi = 0;
  int prefix = 0;  // states[hi - 1 - prefix] was the previous walk's first frame past the probe
  CachedState states[kCacheStates];
  void clear() { lo = hi = prefix = 0; }
};

// States a walk records before it joins a remembered chain, and after it leaves one.
inline constexpr int kWalkRecord = 48;

// Env provides:
//   bool read(uintptr_t addr, uintptr_t* v)   a word of stack memory, false if unreadable
//   void enter(uintptr_t sp)                   the walk moved to another stack (signal frame)
//   PackedRule rule(uintptr_t pc)              the rule for pc (return address - 1 or exact)
//   bool skip(uintptr_t pc) const              pc is the probe's own frame (dropped at the top)
// Walks outward from (pc, sp, bp), a frame inside the probe, storing the return addresses of
// the frames past the probe's own into out[0..depth). `cache` (may be null) is the calling
// thread's: read for earlier walks' states, and left holding this walk's.
template <class Env>
Walk walk(Env& env, uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t* __restrict out, int depth,
          WalkCache* __restrict cache = nullptr) {
  // Restrict, local records, few live variables: stores must not make the compiler reload
  // the reader's bounds and the walk's own state after every frame.
  Walk w;
  uintptr_t* op = out;  // the next return address goes here
  uintptr_t* const op_end = out + depth;
  uintptr_t adj = 0;  // 0: pc is exact (the first, or interrupted by a signal); 1: a return address
  bool in_prefix = true;
  int hops = 0;
  bool ended = false;  // false: the loop ran out of steps
  int step = 0;
  // The walk records its states in rec: leaf first, rp the current state (while recording),
  // rp_cap the last slot. A signal frame or an odd RBP slot stops the recording: only
  // ordinary steps are memos. If it joins a remembered chain, rec[0, nn) are its states up to
  // the one where it joined, and rec[nn] the one where it left the chain, then those below.
  CachedState rec[kWalkRecord];
  CachedState* rp = rec;
  CachedState* rp_cap = rec + kWalkRecord - 1;
  rp->pc = pc;
  rp->sp = sp;
  rp->bp = bp;
  int nn = 0;
  int first_out = 0;  // rec[first_out]: the first frame past the probe's (0: not recorded)
  CachedState* const S = cache ? cache->states : nullptr;
  const int lo = cache ? cache->lo : 0;
  int k = cache ? cache->hi - 1 : -1;  // scanning down the chains: the first with sp >= sp
  int joined = -1;                     // the walk joined a chain at states[joined]
  int left = -1;                       // and left it at states[left] (its last state taken)
  bool have_state = false;             // the loop starts in a state already reached
  int replayed = 0;
  if (cache && cache->prefix > 0 && cache->hi - cache->lo > cache->prefix &&
      S[cache->hi - 1].pc == pc && ((sp - S[cache->hi - 1].sp) & 1) == 0) {
    // The probe's own frames, shifted by the distance between the two starting points.
    const uintptr_t delta = sp - S[cache->hi - 1].sp;
    const int p = cache->prefix;
    int i = 1;
    for (; i <= p; ++i) {
      const CachedState& from = S[cache->hi - i];
      const CachedState& to = S[cache->hi - 1 - i];
      const uintptr_t st = from.step;
      if ((st & 1) && bp != from.bp + delta) break;  // its CFA came from another RBP
      uintptr_t v;
      if (!env.read(to.sp + delta - sizeof(uintptr_t), &v) || v != to.pc) break;
      uintptr_t shifted = st;
      if (st > 1) {
        shifted = st + delta;
        if (!env.read(shifted & ~uintptr_t{1}, &v)) break;
        bp = v;
      }
      rp->step = shifted;
      ++rp;
      rp->pc = to.pc;
      rp->sp = to.sp + delta;
      rp->bp = bp;
    }
    const int taken = i - 1;
    replayed = taken;
    if (taken) {
      pc = rp->pc;
      sp = rp->sp;
      adj = 1;
    }
    if (taken == p) {
      step = p - 1;  // the iteration that reached state p
      have_state = true;
    } else {
      step = taken;
    }
  }
  for (; step < kMaxWalkSteps; ++step) {
    if (have_state) {
      have_state = false;
    } else {
      const PackedRule r = env.rule(pc - adj);
      const RuleKind kind = rule_bits::kind(r);
      if (__builtin_expect(kind == RuleKind::kNormal, 1)) {
        const uintptr_t from_bp = rule_bits::cfa_from_bp(r);
        const uintptr_t cfa = (from_bp ? bp : sp) + rule_bits::cfa_offset(r);
        // Every ordinary step moves up the stack: a loop or a wild value ends the walk.
        if (__builtin_expect(cfa <= sp, 0)) {
          w.stop = Stop::kBadFrame;
          ended = true;
          break;
        }
        uintptr_t bp_at = 0;
        if (rule_bits::bp_saved(r)) {
          bp_at = cfa + static_cast<uintptr_t>(rule_bits::bp_offset(r));
          if (__builtin_expect(!env.read(bp_at, &bp), 0)) {
            w.stop = Stop::kUnknownStack;
            ended = true;
            break;
          }
          if (__builtin_expect(bp_at & 1, 0)) rp_cap = rp;  // the flag bit is taken
        }
        if (__builtin_expect(!env.read(cfa - sizeof(uintptr_t), &pc), 0)) {
          w.stop = Stop::kUnknownStack;
          ended = true;
          break;
        }
        sp = cfa;
        adj = 1;
        if (__builtin_expect(rp != rp_cap, 1)) {
          rp->step = bp_at | from_bp;
          ++rp;
          rp->pc = pc;
          rp->sp = sp;
          rp->bp = bp;
        }
      } else if (kind == RuleKind::kEnd) {
        ended = true;
        break;
      } else if (kind == RuleKind::kUnsupported) {
        w.stop = Stop::kRule;
        w.why = rule_bits::why(r);
        ended = true;
        break;
      } else {
        // glibc's __restore_rt: the stack pointer is at the ucontext the kernel pushed.
        // Offsets of RIP, RSP and RBP in ucontext_t.uc_mcontext.gregs (x86_64 Linux ABI).
        constexpr uintptr_t kGregs = 40;
        constexpr uintptr_t kRip = kGregs + 16 * 8;
        constexpr uintptr_t kRsp = kGregs + 15 * 8;
        constexpr uintptr_t kRbp = kGregs + 10 * 8;
        uintptr_t next_pc;
        uintptr_t next_sp;
        if (!env.read(sp + kRip, &next_pc) || !env.read(sp + kRsp, &next_sp) ||
            !env.read(sp + kRbp, &bp)) {
          w.stop = Stop::kUnknownStack;
          ended = true;
          break;
        }
        if (++hops > kMaxStackHops) {
          w.stop = Stop::kBadFrame;
          ended = true;
          break;
        }
        env.enter(next_sp);  // the interrupted code's stack: this one or the thread's own
        pc = next_pc;
        sp = next_sp;
        adj = 0;
        // Only ordinary steps are remembered (the states so far stay), and compared with.
        rp_cap = rp;
        k = lo - 1;
      }
    }
    if (pc == 0) {
      // A state with no caller is not remembered: a later walk derives this end again.
      if (rp != rec && rp->pc == 0 && rp->sp == sp && rp - rec > nn) --rp;
      ended = true;
      break;
    }
    if (in_prefix) {
      if (env.skip(pc)) continue;
      in_prefix = false;
      if (rp != rec && rp->sp == sp) first_out = static_cast<int>(rp - rec);
    }
    if (op == op_end) {
      w.truncated = true;
      w.stop = Stop::kDepth;
      ended = true;
      break;
    }
    *op++ = pc;
    // Past the probe's frames and not yet on a chain: did an earlier walk pass through this
    // state? Then take its steps upwards for as long as each reads what it read then.
    if (k >= lo) {
      while (S[k].sp < sp)
        if (--k < lo) break;
      if (k >= lo && S[k].sp == sp && S[k].pc == pc && adj && k < cache->hi - 1 && rp->sp == sp &&
          rp != rp_cap) {
        joined = k;
        int limit = static_cast<int>(op_end - op);
        if (limit > kMaxWalkSteps - 1 - step) limit = kMaxWalkSteps - 1 - step;
        const int stop_at = k - limit > lo ? k - limit : lo;
        int t = k - 1;
        for (; t >= stop_at; --t) {
          const CachedState& from = S[t + 1];
          const CachedState& to = S[t];
          const uintptr_t st = from.step;
          if ((st & 1) && bp != from.bp) break;  // its CFA came from another RBP
          uintptr_t v;
          if (!env.read(to.sp - sizeof(uintptr_t), &v) || v != to.pc) break;
          if (st > 1) {
            if (!env.read(st & ~uintptr_t{1}, &v)) break;
            bp = v;
          }
          *op++ = to.pc;  // the same step as before: its caller is this walk's next frame
        }
        left = t + 1;
        const int taken = k - left;
        pc = S[left].pc;
        sp = S[left].sp;
        // rec[nn]: the state it leaves the chain in (its step is derived from here on).
        nn = static_cast<int>(rp - rec) + 1;
        ++rp;
        rp->pc = pc;
        rp->sp = sp;
        rp->bp = bp;
        step += taken;
        replayed += taken;
        w.reused += taken;
        k = lo - 1;  // the rest is derived, and recorded below states[left]
      }
    }
  }
  if (!ended) {  // out of steps
    w.truncated = true;
    w.stop = Stop::kDepth;
  }
  // Every step the loop took was derived from a rule, but those replayed.
  w.rules = step + (ended ? 1 : 0) - replayed;
  w.n = static_cast<int>(op - out);
  if (cache) {
    const int n = static_cast<int>(rp - rec) + 1;  // states recorded
    if (joined < 0) {
      // A chain of its own, in the middle: room to grow both ways.
      const int base = (kCacheStates - n) / 2;
      for (int i = 0; i < n; ++i) S[base + n - 1 - i] = rec[i];
      cache->lo = base;
      cache->hi = base + n;
    } else {
      // From states[left] down: the states derived after leaving the chain, if any (they
      // replace what was remembered there; else the chain's rest stays, still a valid memo).
      int new_lo = cache->lo;
      if (n > nn + 1) {
        const int below = n - nn - 1;
        const int fit = below < left ? below : left;
        S[left].step = rec[nn].step;  // derived with this walk's RBP
        S[left].bp = rec[nn].bp;
        for (int i = 1; i <= fit; ++i) S[left - i] = rec[nn + i];
        new_lo = left - fit;
      }
      // Above states[joined]: this walk's states before it joined, moved down if needed.
      int top = joined + nn;  // exclusive; rec[nn - 1] is states[joined] itself
      if (top > kCacheStates) {
        const int shift = top - kCacheStates;
        int from = new_lo + shift;  // the lowest entries give way
        if (from > joined) from = joined;
        __builtin_memmove(&S[from - shift], &S[from],
                          sizeof(CachedState) * static_cast<size_t>(joined + 1 - from));
        joined -= shift;
        new_lo = from - shift;
        top = joined + nn;
      }
      for (int i = 0; i < nn - 1; ++i) S[joined + nn - 1 - i] = rec[i];
      cache->lo = new_lo;
      cache->hi = top;
    }
    cache->prefix = first_out;
  }
  return w;
}

}  // namespace leakprobe
