// How to step from one x86_64 frame to its caller, compiled once per code address from the
// module's .eh_frame (the table every gcc/clang binary carries for C++ exceptions, frame
// pointers or not).
//
// Nearly every call site in compiled code has the simple form the kernel's ORC unwinder and
// framehop also reduce CFI to: CFA = RSP or RBP + offset, the return address at CFA - 8, the
// caller's RBP either untouched or saved at CFA + offset. A rule in that form lets a frame be
// stepped with two loads. Anything else (a CFA computed by a DWARF expression, a return address
// kept in a register, stack realignment) is reported as unsupported, with the reason, and the
// walk stops there rather than guess. Signal trampolines (glibc's __restore_rt, CIE
// augmentation 'S') get their own kind: the caller's registers are in the ucontext on the stack.
//
// compile_frame_rule() reads only the module's own mapped, read-only .eh_frame_hdr/.eh_frame,
// makes no system call and allocates nothing, so it can run inside malloc.
#pragma once

#include <cstdint>

namespace leakprobe {

enum class RuleKind : uint8_t {
  kUnsupported = 0,  // stop the walk here (see `why`)
  kNormal = 1,       // CFA = (RSP|RBP) + cfa_offset; RA at CFA-8; RBP kept or at CFA+bp_offset
  kEnd = 2,          // the outermost frame (RA undefined: _start, clone's thread start)
  kSignal = 3,       // a signal trampoline: registers come from the ucontext at RSP
};

// Why a rule is unsupported; counted by the verification mode and named in its report.
enum class RuleWhy : uint8_t {
  kNone = 0,
  kNoModule,       // the address is in no loaded object (JIT code, a stale address)
  kNoUnwindTable,  // the object has no .eh_frame_hdr, or none in a form we read
  kNoFde,          // no FDE covers the address (hand-written assembly without CFI)
  kCfaExpression,  // CFA computed by a DWARF expression or from another register
  kReturnAddress,  // the return address is not at CFA-8
  kFramePointer,   // RBP restored in a form other than "kept" or "saved at CFA+n"
  kBadCfi,         // an opcode or encoding this reader does not know, or a malformed entry
  kCount
};

struct FrameRule {
  RuleKind kind = RuleKind::kUnsupported;
  RuleWhy why = RuleWhy::kNone;
  bool cfa_from_bp = false;  // CFA based on RBP instead of RSP
  bool bp_saved = false;     // the caller's RBP is at CFA + bp_offset
  int32_t cfa_offset = 0;
  int32_t bp_offset = 0;
};

// The rule for the frame whose code address is `pc`. For a caller frame pass the return
// address minus one (the call instruction's last byte): a call that ends a function has its
// return address in the next function.
FrameRule compile_frame_rule(uintptr_t pc);

// The same, given the module's .eh_frame_hdr (the PT_GNU_EH_FRAME segment). For unit tests.
FrameRule compile_frame_rule_from(const uint8_t* eh_frame_hdr, uintptr_t pc);

const char* rule_why_name(RuleWhy why);

}  // namespace leakprobe
