// dlclose: unloading a module can put other code at its addresses later, so the frame rules
// compiled for them become stale (rule_cache.h). The real dlclose runs first; rules looked up
// concurrently are for code that is still on some stack, hence still loaded.
//
// dlopen with RTLD_DEEPBIND: the library binds malloc and free to libc's before ours, so the
// host blocks it frees stay live in our tables and its own blocks are never seen. Snapshots
// from then on say so (format::kIncompleteDeepbindFrees). dlopen is passed on by a jump, never
// a call: glibc takes the caller's RPATH, RUNPATH and namespace from dlopen's return address,
// and a wrapper's call would make that the probe's.
#include <dlfcn.h>

#include <atomic>
#include <cstdint>

#include "attach.h"
#include "got_patch.h"
#include "guard.h"
#include "interposer.h"
#include "log.h"
#include "rule_cache.h"
#include "tracker.h"

namespace {

using dlclose_fn = int (*)(void*);
LP_NEXT_SLOT(dlclose, dlclose_fn);

__attribute__((constructor)) void resolve_dlclose() { LP_NEXT(dlclose); }

}  // namespace

LP_EXPORT int dlclose(void* handle) {
  auto real = LP_NEXT(dlclose);
  if (!real) return -1;
  int rc = real(handle);
  leakprobe::rule_cache_invalidate();
  return rc;
}

using dlopen_fn = void* (*)(const char*, int);
// Read by the assembly below: a plain symbol (the file is built without LTO, which would
// rename or drop what only the assembly names).
extern "C" {
__attribute__((visibility("hidden"), used)) std::atomic<dlopen_fn> leakprobe_next_dlopen{nullptr};
}
static_assert(sizeof(std::atomic<dlopen_fn>) == sizeof(void*));

namespace {

void* dlopen_unavailable(const char*, int) { return nullptr; }

__attribute__((constructor)) void resolve_dlopen() {
  leakprobe::Guard g;  // dlsym may allocate
  leakprobe_next_dlopen.store(leakprobe::next_definition<dlopen_fn>("dlopen"),
                              std::memory_order_release);
}

}  // namespace

// Set while the probe is attached (attach.h): every dlopen then takes the slow path below, so
// the modules it loads get their calls rewritten.
extern "C" {
__attribute__((visibility("hidden"), used)) std::atomic<uint8_t> leakprobe_dlopen_watch{0};
}

// What the assembly does next: jump to `jump` with the caller's own arguments and return
// address, or (jump null) return `handle`, the dlopen already done.
struct DlopenStep {
  dlopen_fn jump;
  void* handle;
};
static_assert(sizeof(DlopenStep) == 2 * sizeof(void*));  // returned in rax:rdx

// The dlopen below calls this only for RTLD_DEEPBIND, before the constructor ran, or while
// attached. `caller` is the host's return address.
extern "C" __attribute__((visibility("hidden"), used)) DlopenStep leakprobe_dlopen_slow(
    const char* file, int mode, const void* caller) {
  if (!leakprobe_next_dlopen.load(std::memory_order_acquire)) resolve_dlopen();
  // Attached, the library's calls are rewritten like any other module's (got_patch.h): the
  // symbol lookup RTLD_DEEPBIND changes is not how they reach the probe.
  const bool attached = leakprobe::attach_state() == leakprobe::AttachState::kAttached;
  if ((mode & RTLD_DEEPBIND) && !attached) {
    static std::atomic<bool> said{false};
    leakprobe::log_once(said, "a library is opened with RTLD_DEEPBIND (",
                        file ? file : "the program",
                        "): its malloc and free bypass the probe, so "
                        "blocks it frees stay live in snapshots, which say deepbind-frees");
    if (leakprobe::Tracker* t = leakprobe::tracker())
      t->note_incomplete(leakprobe::Tracker::Gap::kDeepbindFrees, nullptr);
  }
  dlopen_fn f = leakprobe_next_dlopen.load(std::memory_order_acquire);
  if (!f) return DlopenStep{dlopen_unavailable, nullptr};
  // Attached: call the real dlopen from here and rewrite what it loaded before the caller
  // gets the handle, when that cannot change which file is loaded (got_patch.h). Otherwise
  // the jump keeps glibc's view of the caller, and the writer's tick rewrites the new
  // modules within 200 ms.
  if (attached && leakprobe::got::dlopen_caller_independent(file, caller)) {
    void* handle = f(file, mode);
    leakprobe::attach_after_dlopen();
    return DlopenStep{nullptr, handle};
  }
  return DlopenStep{f, nullptr};
}

#if defined(__x86_64__)
// dlopen(file, mode): straight on to the real dlopen unless mode has RTLD_DEEPBIND (0x8), the
// real one is not known yet, or the probe is attached; then leakprobe_dlopen_slow(file, mode,
// return address) first, arguments kept around it, and either the jump it names or (rax 0)
// the handle it returned in rdx.
asm(R"(
  .text
  .globl dlopen
  .type dlopen, @function
  .p2align 4
dlopen:
  .cfi_startproc
  movq leakprobe_next_dlopen(%rip), %rax
  testq %rax, %rax
  jz 1f
  testl $8, %esi
  jnz 1f
  cmpb $0, leakprobe_dlopen_watch(%rip)
  jnz 1f
  jmp *%rax
1:
  pushq %rdi
  .cfi_adjust_cfa_offset 8
  pushq %rsi
  .cfi_adjust_cfa_offset 8
  subq $8, %rsp
  .cfi_adjust_cfa_offset 8
  movq 24(%rsp), %rdx
  call leakprobe_dlopen_slow
  addq $8, %rsp
  .cfi_adjust_cfa_offset -8
  popq %rsi
  .cfi_adjust_cfa_offset -8
  popq %rdi
  .cfi_adjust_cfa_offset -8
  testq %rax, %rax
  jz 2f
  jmp *%rax
2:
  movq %rdx, %rax
  ret
  .cfi_endproc
  .size dlopen, .-dlopen
)");
#endif
