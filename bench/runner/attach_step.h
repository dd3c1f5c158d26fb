// The attached configurations' extra steps around a broker run: `leakprobe attach` (and
// `leakprobe detach`) once the broker is up and before the load, and after the load the proof
// that what was measured is what the configuration's name says. A run whose attach failed, or
// whose broker turns out not to have recorded (or, detached, to have recorded), fails: it is
// never measured as if it were attached.
#pragma once

#include <sys/types.h>

#include <string>

#include "configs.h"

namespace bench {

struct AttachStep {
  bool ok = false;
  std::string error;
  double attach_s = 0;          // wall time of `leakprobe attach` as the runner saw it
  double detach_s = -1;         // of `leakprobe detach`; -1 when not detached
  double calls_rewritten = -1;  // from the probe's "leakprobe: attached: N calls" line
};

// Why `leakprobe attach` cannot be used on this machine (e.g. ptrace not permitted), by its
// own `--check` on a child started for the purpose; "" when it can.
std::string attach_unavailable(const Paths& paths, const std::string& dir);

// Attaches the probe to `pid` under `config` (snapshots into `prof`, command output into
// `dir`), and detaches it again for Attach::kAttachThenDetach. `broker_stderr` is the broker's
// log, where the probe names the calls it rewrote.
AttachStep attach_probe(const Config& config, const Paths& paths, pid_t pid,
                        const std::string& prof, const std::string& dir,
                        const std::string& broker_stderr);

// What the runner checks in a snapshot (docs/snapshot-format.md).
struct SnapshotFacts {
  bool parsed = false;
  std::string tag;            // header's "@ <tag>": heapprofile or heap_v2/<N>
  long long alloc_objs = -1;  // header's [<alloc_objs>: ...]
  bool attached = false;      // has a "# leakprobe.attached:" line
  std::string recording;      // on | off | dormant
  double recording_since = 0;
  size_t stacks = 0;
  size_t stacks_in_exe = 0;  // stack lines with a frame inside the executable's own mapping
};

SnapshotFacts parse_snapshot_facts(const std::string& text);

// "" when the snapshot proves the configuration: attached and recording in the right mode
// with the broker's own allocation sites in it (exact); detached: recording off since before
// the load started (`load_started_unix`). Otherwise why not.
std::string check_snapshot(const Config& config, const SnapshotFacts& facts,
                           double load_started_unix);

// Takes a snapshot of `pid` with `leakprobe snapshot` after the load and checks it.
std::string verify_after_load(const Config& config, const Paths& paths, pid_t pid,
                              const std::string& dir, double load_started_unix);

// A program that ran to its end under an attached configuration (bench_alloc): its exit
// snapshot in `prof` (the highest sequence) checked as above; detached, no snapshot is fine.
std::string check_exit_snapshot(const Config& config, const std::string& prof,
                                double load_started_unix);

}  // namespace bench
