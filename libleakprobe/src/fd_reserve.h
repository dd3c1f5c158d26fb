// Two descriptors kept in reserve for writing a snapshot (the temporary file and
// /proc/self/maps) when the host has used every descriptor it may open. A program that
// leaks connections until EMFILE is exactly one whose snapshots matter; without the
// reserve its exit snapshot would fail.
//
// The reserve is two memfds moved to high numbers (out of the host's numbering). Each has
// its own inode, so before closing one the probe checks that the number still holds it:
// a host that closed "all" descriptors and reused the number keeps its own descriptor.
// Not thread-safe: called under the writer's lock only.
#pragma once

namespace leakprobe {

void fd_reserve_fill();     // takes what is missing (best effort, silent)
void fd_reserve_release();  // frees them for the snapshot about to be written

}  // namespace leakprobe
