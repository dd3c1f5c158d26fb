// Publishing a snapshot file: written under a hidden temporary name (mode 0600), then made
// visible with link() so a reader never sees half a file and an existing snapshot (from an
// earlier image of this pid, before an exec) is never overwritten.
#pragma once

#include <sys/types.h>

#include <climits>
#include <cstddef>

namespace leakprobe {

// Writes the content (for the given sequence number) into the open fd; false on any error.
using ContentFn = bool (*)(int fd, unsigned sequence, void* ctx);

struct PublishResult {
  bool ok = false;
  unsigned sequence = 0;     // the sequence number actually used
  char path[PATH_MAX] = {};  // the published file (ok) or the file being written (error)
  const char* error = "";    // static text: what failed
  int err = 0;               // errno of the failure
  dev_t dev = 0;             // the published file's identity (ok), so that the probe can
  ino_t ino = 0;             // later tell its own file from one put there by someone else
};

// Publishes <dir>/leakprobe.<pid>.<seq>.heap, with the first sequence >= `first_sequence`
// that is not taken yet (after an exec, the new image continues the old one's numbers). On
// failure nothing is left behind. `pid_namespace` (own_pid_namespace(), 0 if unknown) keeps
// the temporary name apart from a process with the same pid in another pid namespace writing
// the same directory.
PublishResult publish_snapshot(const char* dir, int pid, unsigned long long pid_namespace,
                               unsigned first_sequence, ContentFn content, void* ctx);

// Formats "<dir>/<prefix>leakprobe.<pid>.<seq>.heap<suffix>" into out (PATH_MAX).
bool snapshot_path(char* out, const char* dir, const char* prefix, int pid, unsigned seq,
                   const char* suffix);

}  // namespace leakprobe
