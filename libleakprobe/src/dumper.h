// When snapshots are written: the writer thread (signal, interval, control socket) and the
// synchronous paths (exit). Everything here runs on the probe's own thread or at exit,
// never inside a malloc call.
#pragma once

#include <csignal>

#include "options.h"
#include "snapshot_file.h"

namespace leakprobe {

class Tracker;

// Starts the writer thread (all signals blocked, guard held for life), the control socket
// "\0leakprobe.<pid>", the signal handler and the interval timer. False after one stderr
// line if the thread cannot be started; the host keeps running, tracking still works.
bool dumper_start(Tracker* t);

// Writes one snapshot now from the calling thread, serialised with the writer thread.
// `wait_ms` bounds how long to wait for a snapshot already in progress (-1 = forever).
PublishResult dumper_snapshot(const char* trigger, int wait_ms);

// The exit snapshot (atexit), if LEAKPROBE_AT_EXIT allows.
void dumper_at_exit();

// fork: no snapshot may be half-way through at the fork. The writer walks the loaded
// objects with dl_iterate_phdr, whose lock glibc does not reset in the child, so a fork
// in the middle of a snapshot could leave the child's unwinder waiting forever.
// Bounded: if a snapshot takes longer than 2 s the fork goes ahead anyway.
void dumper_lock_for_fork();
void dumper_unlock_after_fork_in_parent();

// fork: the writer thread does not exist in the child. Rebuild it there under the child's
// pid, with the sequence back at 1 and the parent's pid recorded.
void dumper_restart_in_child();

// The snapshot signal belongs to the host as soon as the host wants it. The probe installs
// its handler only if the signal is at its default disposition at start-up (an inherited
// SIG_IGN is the host's and must reach its exec'd children unchanged). The interposed
// sigaction()/signal() ask dumper_signal_is_ours() first; if so, dumper_release_signal()
// hands the signal over: the trigger goes off and one stderr line says so. (No delivery
// ever lands on the writer thread: it keeps every signal blocked for life.)
bool dumper_signal_is_ours(int sig);
void dumper_release_signal();
// What the host would see without the probe: the disposition our handler replaced, if
// `current` is our handler (else `current` unchanged).
void dumper_hide_own_handler(struct sigaction* current);

// The control socket's abstract name for a pid: "leakprobe.<pid>" (without the leading NUL).
void control_socket_name(char* out, unsigned size, int pid);

}  // namespace leakprobe
