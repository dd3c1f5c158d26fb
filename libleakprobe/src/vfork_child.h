// True on the thread of a vfork() child until it calls exec or _exit. The child runs in the
// parent's memory with its own descriptor table: what it closes or opens is not the parent's,
// so the interposers must leave the (shared) resource table alone there (bionic's fdtrack
// skips vforked threads for the same reason). Set by the vfork in interpose_vfork.cpp.
#pragma once

namespace leakprobe {

extern __thread bool t_vfork_child __attribute__((tls_model("initial-exec")));

inline bool in_vfork_child() { return t_vfork_child; }

}  // namespace leakprobe
