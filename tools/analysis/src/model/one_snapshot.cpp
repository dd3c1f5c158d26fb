#include "leakprobe/analysis/snapshot.h"

namespace leakprobe::analysis {

Snapshot nothing_before(const Snapshot& s) {
  Snapshot nothing;
  nothing.name = "(nothing)";
  // What makes the two comparable, and the same process: kind, sampling, program.
  nothing.flavour = s.flavour;
  nothing.kind = s.kind;
  nothing.sampling = s.sampling;
  nothing.format = s.format;
  nothing.pid = s.pid;
  nothing.ppid = s.ppid;
  nothing.exe = s.exe;
  nothing.build_ids = s.build_ids;
  nothing.mappings = s.mappings;
  nothing.first_mapped_path = s.first_mapped_path;
  // Resources are compared only when both say they were tracked; then nothing was open.
  nothing.resources_tracked = s.resources_tracked;
  if (s.untracked_fds) nothing.untracked_fds = 0;
  // No time, sequence, trigger or recording line: nothing to order by, and no interval whose
  // recording could have been off.
  return nothing;
}

}  // namespace leakprobe::analysis
