// Logging from inside the host process: one write(2) per line, never allocates, so it is
// safe from malloc hooks, the writer thread, fork handlers and exit paths.
#pragma once

#include <atomic>
#include <cstdint>

namespace leakprobe {

// Writes "leakprobe: " + the parts + "\n" to stderr in a single write(2) so that lines from
// several threads do not interleave. Parts may be null. Preserves errno.
void log_line(const char* a, const char* b = nullptr, const char* c = nullptr,
              const char* d = nullptr, const char* e = nullptr);

// The same, but only the first time `flag` is seen clear: a failure that repeats (every
// snapshot into a full disk) must not flood the host's stderr.
void log_once(std::atomic<bool>& flag, const char* a, const char* b = nullptr,
              const char* c = nullptr, const char* d = nullptr, const char* e = nullptr);

// Remembers which file descriptor 2 is (device and inode) when the probe starts. Later
// lines are written only while descriptor 2 is still that file: a host that closes its
// stderr and reuses the number for a data file or a socket must never receive our text.
// Called first thing in the constructor (before it, lines are written unconditionally).
void log_remember_stderr();

// Allocation-free number formatting for log lines. `buf` must hold 24 chars; returns buf.
const char* fmt_u64(char* buf, uint64_t v);

}  // namespace leakprobe
