// vfork(), as glibc's own x86_64 vfork does it, plus one flag (vfork_child.h).
//
// A C wrapper cannot call the real vfork: the child returns through the wrapper's frame and
// pops its return address, and the parent, resumed later on the same stack, would return
// through garbage. So, like glibc, the return address is kept in a register across the system
// call. The flag is thread-local and the child runs on the parent's thread memory: the child
// sets it, and the parent -- which only runs again once the child has exec'd or exited --
// clears it before returning.
#include <cerrno>

#include "vfork_child.h"

namespace leakprobe {
__thread bool t_vfork_child __attribute__((tls_model("initial-exec"), used)) = false;
}

extern "C" __attribute__((visibility("hidden"), used)) int leakprobe_vfork_failed(int err) {
  errno = err;
  return -1;
}

#if defined(__x86_64__)
asm(R"(
  .text
  .globl vfork
  .type vfork, @function
  .p2align 4
vfork:
  .cfi_startproc
  popq %rdi
  .cfi_adjust_cfa_offset -8
  .cfi_register %rip, %rdi
  movl $58, %eax                     /* SYS_vfork */
  syscall
  pushq %rdi
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %rip, 0
  movq _ZN9leakprobe13t_vfork_childE@gottpoff(%rip), %rcx
  cmpq $-4095, %rax
  jae 2f
  testl %eax, %eax
  jnz 1f
  movb $1, %fs:(%rcx)                /* the child */
  ret
1:
  movb $0, %fs:(%rcx)                /* the parent, once the child has gone */
  ret
2:
  movb $0, %fs:(%rcx)
  negl %eax
  movl %eax, %edi
  jmp leakprobe_vfork_failed
  .cfi_endproc
  .size vfork, .-vfork
)");
#endif
