// Which pid namespace this process lives in. A pid alone does not name a process: two
// containers each have their pid 1, and when they share a network namespace (--net=host) or
// one snapshot directory, the control socket's name and the temporary file's name must not
// collide between them.
#pragma once

namespace leakprobe {

// The inode of /proc/self/ns/pid (unique per boot), or 0 where /proc is not mounted.
unsigned long long own_pid_namespace();

}  // namespace leakprobe
