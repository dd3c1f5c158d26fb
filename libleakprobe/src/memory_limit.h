// How much memory this process may use, for tying LEAKPROBE_MAX_STACKS to it: the machine's
// physical memory, or less when the process's own cgroup sets a limit (a container, a systemd
// unit with MemoryMax=). A stack table sized to the machine would outgrow a 512 MiB container
// long before it troubled the machine, and the OOM killer would take the host for it.
// Read once at start-up, from fixed buffers: nothing here allocates.
#pragma once

#include <cstdint>

namespace leakprobe {

// The tightest memory limit of the cgroup this process is in and of every cgroup above it,
// in bytes; 0 when there is none (no cgroup file readable, "max", or the value v1 uses for
// "unlimited"). `root` is the file system root the paths are read under ("/" normally; a
// test passes a fake tree): <root>/proc/self/cgroup names the cgroup; cgroup v2 limits are in
// <root>/sys/fs/cgroup/<path>/memory.max, v1 limits in
// <root>/sys/fs/cgroup/memory/<path>/memory.limit_in_bytes. With both (a hybrid system) the
// smaller counts.
uint64_t cgroup_memory_limit(const char* root);

// What fit_max_stacks is given: the smaller of `physical` (0 = unknown) and the cgroup limit
// under `root`, and whether the cgroup's was the smaller.
struct MemoryLimit {
  uint64_t bytes = 0;  // 0: unknown
  bool cgroup = false;
};
MemoryLimit process_memory_limit(const char* root, uint64_t physical);

}  // namespace leakprobe
