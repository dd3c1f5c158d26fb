// When snapshots are written: the writer thread (signal flag, interval, control socket),
// serialised with the synchronous paths (exit), and kept consistent across fork. Everything
// here runs on the probe's own thread or at exit, never inside a malloc call. What goes into
// a snapshot is snapshot_writer's job; where it goes is snapshot_file's.
#pragma once

#include <cstddef>

#include "options.h"
#include "snapshot_file.h"

namespace leakprobe {

class Tracker;

// Attach mode (attach.cpp) plugs in here, so that the writer needs nothing of it otherwise:
// `tick` runs on the writer thread at least every 200 ms (modules loaded since the attach get
// their calls rewritten), `detach` serves the control socket's "detach" request, and
// `attach_word` ("attached"/"detached", or nullptr) ends the status reply. Set before
// writer_start.
struct AttachHooks {
  void (*tick)() = nullptr;
  bool (*detach)(char* reply, size_t size) = nullptr;
  const char* (*attach_word)() = nullptr;
};
void writer_set_attach_hooks(const AttachHooks& hooks);

// Starts the writer for `t` under `config`: creates the output directory, installs the
// signal trigger, opens the control socket and starts the thread (all signals blocked,
// guard held for life). False after one stderr line if the thread cannot be started; the
// host keeps running, tracking still works, the exit snapshot is still written.
bool writer_start(Tracker* t, const WriterConfig& config);

// Writes one snapshot now from the calling thread, serialised with the writer thread.
// `wait_ms` bounds how long to wait for a snapshot already in progress (-1 = forever).
PublishResult writer_snapshot(const char* trigger, int wait_ms);

// The exit snapshot (atexit), if LEAKPROBE_AT_EXIT allows.
void writer_at_exit();

// fork: no snapshot may be half-way through at the fork. The writer walks the loaded
// objects with dl_iterate_phdr, whose lock glibc does not reset in the child, so a fork
// in the middle of a snapshot could leave the child's unwinder waiting forever.
// Bounded: if a snapshot takes longer than 2 s the fork goes ahead anyway.
void writer_lock_for_fork();
void writer_unlock_after_fork_in_parent();

// fork: the writer thread does not exist in the child. Rebuild it there under the child's
// pid, with the sequence back at 1 and the parent's pid recorded.
void writer_restart_in_child();

}  // namespace leakprobe
