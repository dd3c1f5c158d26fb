// What the kernel says is open: /proc/self/fd, read without allocating (getdents64 into a
// stack buffer), and the kind of a descriptor found there. Used where an interposer cannot
// see: descriptors inherited at start-up, and at snapshot time the ones created or closed by
// raw system calls and glibc-internal paths. Never on an interposed call's path: these make
// system calls.
#pragma once

#include <cstdint>

#include "leakprobe/snapshot_format.h"

namespace leakprobe {

class ResourceTable;

// Sets bit fd of `bits` (room for `nbits`, zeroed by the caller) for every open descriptor
// except the one used for reading the directory. Returns 1 + the highest descriptor seen
// (which may exceed nbits), or -1 if /proc/self/fd cannot be read.
int scan_open_fds(uint64_t* bits, int nbits);

// The kind of an open descriptor, from its /proc/self/fd link (and SO_DOMAIN/SO_TYPE for
// sockets).
format::ResourceKind classify_fd(int fd);

// Records every descriptor open now as inherited (called once, before the probe opens any
// of its own).
void record_inherited_fds(ResourceTable& t);

}  // namespace leakprobe
