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
  int first = -1;  // the pool slot of the first frame's state (-1: not in the pool)
};

// One state of a walk among the probe's own frames: the registers it tracks in a frame, and
// how the step out of it went: where it read the caller's RBP (0: RBP was left as it is) | 1
// if its CFA came from RBP.
struct FrameState {
  uintptr_t pc;  // a return address (every state but a walk's first)
  uintptr_t sp;
  uintptr_t bp;  // RBP in this state (what a CFA from RBP was computed with)
  uintptr_t step;
};

// One state of the pool (below): pc and sp, the step out of it as in FrameState, and the state
// that step landed in.
struct CachedState {
  uintptr_t pc;
  uintptr_t sp;
  uintptr_t step;
  // The state the step landed in; nullptr if none is remembered, or if the step's CFA came
  // from RBP (such a step is always derived: RBP is not followed through replayed frames).
  const CachedState* next;
  // The owner's: which stack the last walk whose first frame this state was gave (StackTable
  // index + 1; 0: none). A hint, to be checked: the states above may have changed since.
  uint32_t hint;
  uint32_t unused;
};

// The states earlier walks of a thread passed through, each with the step out of it: a memo.
//
// Why reuse is exact: a step is a function of the state (pc, sp, bp), the frame rule for pc
// and the stack words it reads (the return address at CFA-8 and, for some rules, the saved
// RBP). So a remembered step stays true: from a state with the same pc and sp (and RBP, when
// the CFA comes from RBP) it lands at the same CFA and reads the same slots. When a walk
// reaches a remembered state (found by sp and pc in `index`), it follows the remembered steps
// upwards (`next`) for as long as the return address slot of the state a step lands in
// still holds that state's pc: a load and a compare a frame instead of a rule lookup and a
// derivation. The first slot that changed (the caller returned and another call took its
// place) ends the reuse, and the walk derives the rest as usual. Any state of any earlier walk
// may be joined this way, so stacks that share callers with some recent stack (not only the
// last one) reuse them.
// The pool is filled in order and emptied whole when full (index cleared, filling starts
// over), never overwritten a slot at a time: so a `next` always names the very state its
// step landed in (a state's pc and sp never change while it is in the pool), and the replay
// needs no check that the slot still holds it. A refill costs one walk derived in full every
// kCacheStates new states.
// The replay reads return-address slots with plain loads (Env::load): only walks that start
// on the thread's own stack remember or join states (Env::own), every state was reached by a
// checked read there, and a joined chain only climbs from the current sp towards the stack's
// top, all of it mapped.
// RBP is not followed through replayed frames (without frame pointers most functions save
// RBP, few compute a CFA from it): steps whose CFA comes from RBP are not linked, so they are
// always derived, and RBP is then worked out from the last replayed step that read it.
// The probe's own frames sit at the same distances from the walk's first state whatever the
// host's stack depth: earlier walks' probe steps are kept relative to their starting sp and
// checked at the same offsets from the new one (a CFA from RBP shifted alike). Each entry
// point (malloc, calloc, realloc, new, ...) has its own chain of probe frames: the last few
// are kept (`prefixes`), the one that held last time tried first.
// The rules must be the same too: the owner empties the cache when the rule cache's
// generation changed (a module was unloaded).
inline constexpr int kCacheStates = 240;  // filled in order, emptied whole when full
inline constexpr int kCacheIndexBits = 9;
inline constexpr int kCacheIndex = 1 << kCacheIndexBits;  // by sp and pc: pool slot + 1, 0 = empty
inline constexpr int kPrefixStates = 8;
inline constexpr int kPrefixes = 4;
// The probe's frames of one entry point: states[0..n], sp, bp and bp slots relative to
// states[0].sp; states[n] is the host's frame that called the probe (its pc not compared).
struct PrefixChain {
  int n = 0;  // 0: none
  FrameState states[kPrefixStates + 1];
};
struct WalkCache {
  uint64_t tag = 0;          // the owner's: what the states also depend on (the rules' generation)
  uint32_t next = 0;         // the next free slot
  uint32_t last_prefix = 0;  // the chain that held last
  PrefixChain prefixes[kPrefixes];
  uint16_t index[kCacheIndex] = {};
  CachedState states[kCacheStates];
  void clear() {
    for (PrefixChain& c : prefixes) c.n = 0;
    next = 0;
    __builtin_memset(index, 0, sizeof index);
  }
};

namespace walk_detail {
// Where the step out of `from` landed, as the replay may follow it (see CachedState::next).
inline void link(CachedState& from, const CachedState* to) {
  from.next = from.step & 1 ? nullptr : to;
}
// A remembered chain of probe frames other than `c` that agrees with it on states 0..i-1
// (their pcs) and goes on with a state i whose return address is `v`: one that ends there
// (`host`: v is the host's), or whose state i has pc v. nullptr if none.
inline const PrefixChain* other_chain(const WalkCache& cache, const PrefixChain& c, int i,
                                      uintptr_t v, bool host) {
  for (const PrefixChain& o : cache.prefixes) {
    if (&o == &c || (host ? o.n != i : o.n <= i || o.states[i].pc != v)) continue;
    if (o.states[i].sp != c.states[i].sp) continue;
    bool same = true;
    for (int j = 0; j < i && same; ++j) same = o.states[j].pc == c.states[j].pc;
    if (same) return &o;
  }
  return nullptr;
}
inline unsigned index_of(uintptr_t sp, uintptr_t pc) {
  return static_cast<unsigned>(((sp >> 3) ^ pc) * 0x9E3779B97F4A7C15ull >> (64 - kCacheIndexBits));
}
}  // namespace walk_detail

// Env provides:
//   bool read(uintptr_t addr, uintptr_t* v)   a word of stack memory, false if unreadable
//   void enter(uintptr_t sp)                   the walk moved to another stack (signal frame)
//   PackedRule rule(uintptr_t pc)              the rule for pc (return address - 1 or exact)
//   bool skip(uintptr_t pc) const              pc is the probe's own frame (dropped at the top)
//   bool own() const                           the walk starts on the thread's own stack
//   uintptr_t load(uintptr_t addr)             a word of it, known to be mapped (cache replay)
// Walks outward from (pc, sp, bp), a frame inside the probe, storing the return addresses of
// the frames past the probe's own into out[0..depth). `cache` (may be null) is the calling
// thread's: read for earlier walks' states, and left holding this walk's too.
template <class Env>
Walk walk(Env& env, uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t* __restrict out, int depth,
          WalkCache* __restrict cache = nullptr) {
  Walk w;
  uintptr_t* op = out;  // the next return address goes here
  uintptr_t* const op_end = out + depth;
  uintptr_t adj = 0;  // 0: pc is exact (the first, or interrupted by a signal); 1: a return address
  bool in_prefix = true;
  int hops = 0;
  bool ended = false;  // false: the loop ran out of steps
  int step = 0;
  int replayed = 0;
  // The probe's frames of this walk (for the next one's prefix), while in them; not filled
  // when the whole remembered prefix held again (`prefix_same`: nothing to store then).
  const uintptr_t sp0 = sp;
  FrameState pre[kPrefixStates + 1];
  int npre = 0;
  bool pre_ok = true;  // every step so far ordinary, and room left
  bool prefix_same = false;
  int first_out = 0;
  // The pool slot of the current state (-1: not in the pool), and whether the walk may still
  // record and join (not past a signal frame).
  CachedState* const S = cache ? cache->states : nullptr;
  int cur = -1;
  // RBP after a replay is not followed frame by frame (most functions save RBP, few compute a
  // CFA from it): it is RBP at `bp_from`, as the walk had it there, changed by the last step
  // on the way to `bp_to` that read RBP, and only worked out (settle_bp) when a step needs it.
  // nullptr: `bp` is RBP in the current state.
  const CachedState* bp_from = nullptr;
  const CachedState* bp_to = nullptr;
  auto settle_bp = [&]() {
    uintptr_t slot = 0;
    for (const CachedState* f = bp_from; f != bp_to; f = f->next)
      if (f->step > 1) slot = f->step;
    if (slot) bp = env.load(slot & ~uintptr_t{1});
    bp_from = nullptr;
  };
  bool memo = cache != nullptr && env.own();
  bool have_state = false;  // the loop starts in a state already reached
  if (cache && (sp & 1) == 0) {
    // The probe's own frames: a remembered chain whose steps all hold at this walk's starting
    // point (kept relative to the first state's sp: sp, bp and the bp slot of each step).
    // Each step's return address says which chain goes on: one into the probe must be the
    // chain's next pc; one into the host ends the chain there (whoever allocated: not
    // compared, the step out of the probe's entry point is the same whatever called it).
    // Chains that agree on the pcs so far agree on every state so far (same code, same
    // starting sp), so the walk may switch to another at the step where they part.
    // Walks that start at another pc (another entry point's own frame: unwind.h, WalkStart)
    // have chains of their own: the one that held last is tried first.
    const PrefixChain* C = &cache->prefixes[cache->last_prefix];
    if (C->states[0].pc != pc) {
      for (const PrefixChain& o : cache->prefixes)
        if (o.n > 0 && o.states[0].pc == pc) C = &o;
    }
    if (C->n > 0 && C->states[0].pc == pc) {
      uintptr_t b = bp;
      for (int i = 1; i <= kPrefixStates; ++i) {
        const FrameState* P = C->states;
        const uintptr_t st = P[i - 1].step;
        if ((st & 1) && b != P[i - 1].bp + sp0) break;  // its CFA came from another RBP
        uintptr_t v;
        if (!env.read(P[i].sp + sp0 - sizeof(uintptr_t), &v)) break;
        if (st > 1 && !env.read((st & ~uintptr_t{1}) + sp0, &b)) break;
        const bool host = !env.skip(v);
        if (host ? C->n != i : C->n <= i || P[i].pc != v) {
          C = walk_detail::other_chain(*cache, *C, i, v, host);
          if (!C) break;
        }
        if (!host) continue;
        cache->last_prefix = static_cast<uint32_t>(C - cache->prefixes);
        pc = v;
        sp = C->states[i].sp + sp0;
        bp = b;
        adj = 1;
        step = i - 1;  // the iteration that reached state i
        replayed = i;
        have_state = true;
        prefix_same = true;
        in_prefix = false;
        first_out = i;
        break;
      }
    }
  }
  if (!prefix_same) pre[0] = FrameState{pc, sp, bp, 0};
  for (; step < kMaxWalkSteps; ++step) {
    if (have_state) {
      have_state = false;
    } else {
      const PackedRule r = env.rule(pc - adj);
      const RuleKind kind = rule_bits::kind(r);
      if (__builtin_expect(kind == RuleKind::kNormal, 1)) {
        const uintptr_t from_bp = rule_bits::cfa_from_bp(r);
        if (__builtin_expect(bp_from != nullptr, 0) && from_bp) settle_bp();
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
          bp_from = nullptr;                                          // RBP is what it just read
          if (__builtin_expect(bp_at & 1, 0)) memo = pre_ok = false;  // the flag bit is taken
        }
        if (__builtin_expect(!env.read(cfa - sizeof(uintptr_t), &pc), 0)) {
          w.stop = Stop::kUnknownStack;
          ended = true;
          break;
        }
        sp = cfa;
        adj = 1;
        const uintptr_t info = bp_at | from_bp;
        if (in_prefix) {
          if (pre_ok && npre < kPrefixStates) {
            pre[npre].step = info;
            ++npre;
            pre[npre] = FrameState{pc, sp, bp, 0};
          } else {
            pre_ok = false;
          }
        }
        if (cur >= 0) {
          // Remember the step out of the pool state the walk was in (`next` is set below).
          CachedState& c = S[cur];
          c.step = info;
          c.next = nullptr;
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
        bp_from = nullptr;
        if (++hops > kMaxStackHops) {
          w.stop = Stop::kBadFrame;
          ended = true;
          break;
        }
        env.enter(next_sp);  // the interrupted code's stack: this one or the thread's own
        pc = next_pc;
        sp = next_sp;
        adj = 0;
        // Only ordinary steps are remembered, and only states reached by them compared with.
        memo = pre_ok = false;
        cur = -1;
      }
    }
    if (pc == 0) {
      ended = true;
      break;
    }
    if (__builtin_expect(in_prefix, 0)) {
      if (env.skip(pc)) continue;
      in_prefix = false;
      if (pre_ok && npre > 0 && pre[npre].sp == sp) first_out = npre;
    }
    if (op == op_end) {
      w.truncated = true;
      w.stop = Stop::kDepth;
      ended = true;
      break;
    }
    *op++ = pc;
    if (!memo) continue;
    // This state in the pool: found (then follow the remembered steps up from it), or added.
    const unsigned ix = walk_detail::index_of(sp, pc);
    const unsigned found = cache->index[ix];
    int prev = cur;
    if (found && S[found - 1].sp == sp && S[found - 1].pc == pc) {
      cur = static_cast<int>(found) - 1;
      if (op == out + 1) w.first = cur;
      if (prev >= 0) walk_detail::link(S[prev], &S[found - 1]);
      int limit = static_cast<int>(op_end - op);
      if (limit > kMaxWalkSteps - 1 - step) limit = kMaxWalkSteps - 1 - step;
      if (bp_from) settle_bp();  // RBP at the state joined (rare: a second replay)
      const CachedState* f = &S[cur];
      const CachedState* const seg = f;  // RBP there is `bp`
      uintptr_t* const op_from = op;
      uintptr_t* const op_stop = op + limit;
      // Two frames an iteration while there is room for two: half the loop's own compares.
      while (op_stop - op >= 2) {
        const CachedState* t = f->next;
        if (!t || env.load(t->sp - sizeof(uintptr_t)) != t->pc) goto replayed;
        op[0] = t->pc;  // the same step as before: its caller is this walk's next frame
        f = t;
        const CachedState* u = t->next;
        if (!u || env.load(u->sp - sizeof(uintptr_t)) != u->pc) {
          op += 1;
          goto replayed;
        }
        op[1] = u->pc;
        op += 2;
        f = u;
      }
      if (op != op_stop) {
        const CachedState* t = f->next;
        if (t && env.load(t->sp - sizeof(uintptr_t)) == t->pc) {
          *op++ = t->pc;
          f = t;
        }
      }
    replayed:
      if (f != seg) {
        bp_from = seg;
        bp_to = f;
      }
      const int taken = static_cast<int>(op - op_from);
      if (taken) {
        cur = static_cast<int>(f - S);
        pc = f->pc;
        sp = f->sp;
        step += taken;
        replayed += taken;
        w.reused += taken;
      }
    } else {
      // A new state: the next free slot. A full pool is emptied whole (see WalkCache); the
      // state the walk came from is then gone, so nothing links to the new one.
      if (__builtin_expect(cache->next == kCacheStates, 0)) {
        if (bp_from) settle_bp();  // before the states it follows are overwritten
        __builtin_memset(cache->index, 0, sizeof cache->index);
        cache->next = 0;
        prev = -1;
        w.first = -1;  // its slot may be taken by a state further up
      }
      const int slot = static_cast<int>(cache->next++);
      CachedState& n = S[slot];
      n.pc = pc;
      n.sp = sp;
      n.step = 0;
      n.next = nullptr;
      n.hint = 0;
      cache->index[ix] = static_cast<uint16_t>(slot + 1);
      if (prev >= 0) walk_detail::link(S[prev], &n);
      cur = slot;
      if (op == out + 1) w.first = slot;
    }
  }
  if (!ended) {  // out of steps
    w.truncated = true;
    w.stop = Stop::kDepth;
  }
  // Every step the loop took was derived from a rule, but those replayed.
  w.rules = step + (ended ? 1 : 0) - replayed;
  w.n = static_cast<int>(op - out);
  if (cache && !prefix_same && first_out > 0 && (sp0 & 1) == 0) {
    // A new chain of probe frames, in place of the one after the chain that held last (so
    // the one used most recently stays). Relative to the first state's sp (see the replay
    // above): a bp slot is above sp0, so the step word stays > 1; sp0 is even, so the from-RBP
    // flag survives.
    const uint32_t which = (cache->last_prefix + 1) % kPrefixes;
    PrefixChain& chain = cache->prefixes[which];
    for (int i = 0; i <= first_out; ++i) {
      const FrameState& a = pre[i];
      chain.states[i] =
          FrameState{a.pc, a.sp - sp0, a.bp - sp0, a.step > 1 ? a.step - sp0 : a.step};
    }
    chain.n = first_out;
    cache->last_prefix = which;
  }
  return w;
}

}  // namespace leakprobe
