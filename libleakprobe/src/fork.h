// fork: keep the tables consistent across the fork and keep profiling in the child.
#pragma once

namespace leakprobe {

// pthread_atfork handlers: prepare takes every table lock (so the child never inherits a
// half-updated shard), parent and child release them; the child then restarts the writer
// thread and control socket under its own pid.
void install_fork_handlers();

}  // namespace leakprobe
