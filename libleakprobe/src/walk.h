// The frame walk itself, a template over where it reads stack memory and frame rules from:
// the probe instantiates it over the thread's stack and the shared rule cache (unwind.cpp), a
// unit test over an array stack and a table of rules (tests/probe/unit/test_walk.cpp).
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
  int rules = 0;  // rules looked up (one per step)
};

// Env provides:
//   bool read(uintptr_t addr, uintptr_t* v)   a word of stack memory, false if unreadable
//   void enter(uintptr_t sp)                   the walk moved to another stack (signal frame)
//   PackedRule rule(uintptr_t pc)              the rule for pc (return address - 1 or exact)
//   bool skip(uintptr_t pc) const              pc is the probe's own frame (dropped at the top)
// Walks outward from (pc, sp, bp), a frame inside the probe, storing the return addresses of
// the frames past the probe's own into out[0..depth).
template <class Env>
Walk walk(Env& env, uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t* __restrict out,
          int depth) {
  // Restrict and a local count: stores into `out` must not make the compiler reload the
  // reader's bounds and the walk's own state after every frame.
  Walk w;
  int nout = 0;
  bool exact_pc = true;  // the first pc and a signal-interrupted pc are not return addresses
  bool in_prefix = true;
  int hops = 0;
  bool ended = false;  // false: the loop ran out of steps
  int step = 0;
  for (; step < kMaxWalkSteps; ++step) {
    const PackedRule r = env.rule(exact_pc ? pc : pc - 1);
    const RuleKind kind = rule_bits::kind(r);
    uintptr_t next_sp;
    if (__builtin_expect(kind == RuleKind::kNormal, 1)) {
      const uintptr_t cfa = (rule_bits::cfa_from_bp(r) ? bp : sp) + rule_bits::cfa_offset(r);
      // Every ordinary step moves up the stack: a loop or a wild value ends the walk.
      if (cfa <= sp) {
        w.stop = Stop::kBadFrame;
        ended = true;
        break;
      }
      if (rule_bits::bp_saved(r) &&
          !env.read(cfa + static_cast<uintptr_t>(rule_bits::bp_offset(r)), &bp)) {
        w.stop = Stop::kUnknownStack;
        ended = true;
        break;
      }
      if (!env.read(cfa - sizeof(uintptr_t), &pc)) {
        w.stop = Stop::kUnknownStack;
        ended = true;
        break;
      }
      next_sp = cfa;
      exact_pc = false;
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
      exact_pc = true;
    }
    sp = next_sp;
    if (pc == 0) {
      ended = true;
      break;
    }
    if (in_prefix) {
      if (env.skip(pc)) continue;
      in_prefix = false;
    }
    if (nout == depth) {
      w.truncated = true;
      w.stop = Stop::kDepth;
      ended = true;
      break;
    }
    out[nout++] = pc;
  }
  if (!ended) {  // out of steps
    w.truncated = true;
    w.stop = Stop::kDepth;
  }
  w.rules = ended ? step + 1 : step;
  w.n = nout;
  return w;
}

}  // namespace leakprobe
