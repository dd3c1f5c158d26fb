// Registers of a thread stopped in system call `nr`, which returned `ret` so far, at 0x1002
// (just past its `syscall` instruction at 0x1000): what the restart-rule tests start from.
#pragma once

#include <sys/user.h>

inline user_regs_struct in_call(long nr, long ret) {
  user_regs_struct r{};
  r.orig_rax = static_cast<unsigned long long>(nr);
  r.rax = static_cast<unsigned long long>(ret);
  r.rip = 0x1002;
  return r;
}
