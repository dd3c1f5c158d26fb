// Call-stack capture: an in-house x86_64 unwinder over the frame rules compiled from each
// module's .eh_frame (frame_rule.h, rule_cache.h). Runs before any probe lock is taken.
//
// Why not libunwind or libgcc on this path: on Debian's mosquitto (no frame pointers)
// libunwind's unw_backtrace fell back to its slow path with two sigprocmask calls a frame,
// and validated addresses through a pipe it kept open on numbers a host could take over;
// libgcc re-decodes the CFI at every frame (160-250 ns a frame here). A cached rule costs a
// hash and two or three loads a frame, every stack read is checked against the thread's own
// stack bounds, and no system call or descriptor is ever involved.
#pragma once

#include <cstdint>

#include "frame_rule.h"
#include "walk.h"

namespace leakprobe {

// One-time setup: the address range of the probe's own code (its frames are dropped whatever
// the inlining did), the main thread's stack bounds and, with `verify`,
// libunwind for the verification mode (LEAKPROBE_VERIFY_UNWIND).
void unwind_init(bool verify);

// Where a walk may start instead of capture_stack's own frame: a frame of the probe's entry
// point that stays live until the capture is done (its address is passed down), taken by
// walk_start_here() in that very function. The walk then skips the probe's frames between
// (malloc_slow, the tracker, capture_stack) without stepping through them.
struct WalkStart {
  uintptr_t pc, sp, bp;
};
// Inlined into the caller (always): the frame rule for this very instruction describes the
// caller's frame, with rsp and rbp as they are here.
__attribute__((always_inline)) inline void walk_start_here(WalkStart* s) {
  asm volatile(
      "lea 0(%%rip), %0\n\t"
      "mov %%rsp, %1\n\t"
      "mov %%rbp, %2"
      : "=r"(s->pc), "=r"(s->sp), "=r"(s->bp));
}

// Fills `out` (room for `depth`) with return addresses, leaf first, starting at the first
// frame outside the probe. Returns the number of frames; sets *truncated if the stack was
// deeper than `depth`.
// With `hint`: set to the thread's word for remembering which stack the last walk from the
// same first frame gave (walk.h, CachedState::hint), or nullptr. One owner may use it (the
// heap tracker): its values are that owner's stack-table indexes.
// With `start`: the walk begins there (see WalkStart).
int capture_stack(uintptr_t* out, int depth, bool* truncated, uint32_t** hint = nullptr,
                  const WalkStart* start = nullptr);

// Why walks ended before the outermost frame, how the rule cache fared, and (verification
// mode) how the walks compared with libunwind's. Counters since start-up; read by the snapshot
// writer.
struct UnwindStats {
  uint64_t stopped[static_cast<int>(RuleWhy::kCount)] = {};  // by the rule that stopped it
  uint64_t stopped_unknown_stack = 0;  // stack memory outside the thread's known stack
  uint64_t stopped_bad_frame = 0;      // a rule that would not move up the stack
  // Walks taken, frame rules looked up in the shared cache (both counted per thread and
  // added up every 256 walks) and how many of those had to be compiled from .eh_frame.
  uint64_t walks = 0;
  uint64_t rule_lookups = 0;
  uint64_t rule_misses = 0;
  uint64_t frames_reused = 0;  // frames the walk cache took from the thread's earlier walks
  // Verification mode only.
  bool verifying = false;
  uint64_t verified = 0;
  uint64_t same = 0;
  uint64_t shorter = 0;    // ours is a prefix of libunwind's
  uint64_t longer = 0;     // libunwind's is a prefix of ours
  uint64_t different = 0;  // a frame differs
};
UnwindStats unwind_stats();

}  // namespace leakprobe
