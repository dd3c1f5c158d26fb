// LEAKPROBE_PEAK: when the live heap has passed the last peak snapshot's by the set growth, and
// which peak snapshot is the newest. The usual end of a leak is the OOM killer's SIGKILL, which
// leaves no exit snapshot; the newest peak snapshot then names what filled memory, within the
// set growth. Bookkeeping only, on the writer thread: nothing here runs inside a host's malloc,
// so the allocation paths pay nothing for it.
#pragma once

#include <sys/types.h>

#include <climits>
#include <cstddef>
#include <cstdint>

namespace leakprobe {

class StackTable;

// A peak snapshot on disk: its path and the identity (device, inode) it was published with,
// so that replacing it deletes only that very file (retention.h: remove_if_same_file).
struct PeakFile {
  char path[PATH_MAX] = {};
  dev_t dev = 0;
  ino_t ino = 0;
};

class PeakWatch {
 public:
  // Below this the heap is start-up noise: a service's first megabyte would otherwise cost a
  // snapshot for every 10% of it.
  static constexpr uint64_t kFloorBytes = uint64_t{1} << 20;

  void init(unsigned growth_pct);
  bool on() const { return growth_pct_ != 0; }

  // Is a peak snapshot due now that `live` bytes are live?
  bool due(uint64_t live) const { return on() && live >= kFloorBytes && live > threshold_; }

  // The peak snapshot `file` was published with `live` bytes live. `previous` receives the
  // peak snapshot it replaces (path "" if none), for the caller to remove: only the newest is
  // kept.
  void published(const PeakFile& file, uint64_t live, PeakFile* previous);

  // The newest peak snapshot's path, "" before the first.
  const char* newest() const { return newest_.path; }
  uint64_t newest_bytes() const { return newest_bytes_; }

  // Forget everything (a forked child starts its own peaks).
  void reset() {
    newest_ = PeakFile{};
    newest_bytes_ = 0;
    threshold_ = 0;
  }

 private:
  unsigned growth_pct_ = 0;
  uint64_t threshold_ = 0;  // a peak snapshot is due above this
  uint64_t newest_bytes_ = 0;
  PeakFile newest_;
};

// Bytes live over every recorded stack (sampled snapshots: the sampled bytes). Lock-free:
// reads each bucket's counters once, so it is exact only when nothing allocates meanwhile.
uint64_t live_heap_bytes(const StackTable& stacks);

}  // namespace leakprobe
