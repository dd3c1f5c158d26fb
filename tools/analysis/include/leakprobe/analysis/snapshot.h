// The in-memory model of one heap snapshot, as read from a leakprobe snapshot or a gperftools
// HEAPPROFILE dump (docs/snapshot-format.md). Counts are already unsampled, exactly as pprof
// does, so everything downstream works on estimated real numbers.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "leakprobe/analysis/memory.h"
#include "leakprobe/snapshot_format.h"
#include "leakprobe/symbolize/symbolizer.h"

namespace leakprobe::analysis {

struct Counts {
  int64_t live_objs = 0;
  int64_t live_bytes = 0;
  int64_t alloc_objs = 0;   // cumulative since the profiler started
  int64_t alloc_bytes = 0;  // cumulative since the profiler started
  // Sampled snapshots only (0 in exact ones): the live objects the file recorded, before
  // unsampling, i.e. the samples the live figures rest on (see uncertainty.h).
  int64_t live_samples = 0;

  Counts& operator+=(const Counts& o) {
    live_objs += o.live_objs;
    live_bytes += o.live_bytes;
    alloc_objs += o.alloc_objs;
    alloc_bytes += o.alloc_bytes;
    live_samples += o.live_samples;
    return *this;
  }
  friend Counts operator-(Counts a, const Counts& b) {
    a.live_objs -= b.live_objs;
    a.live_bytes -= b.live_bytes;
    a.alloc_objs -= b.alloc_objs;
    a.alloc_bytes -= b.alloc_bytes;
    a.live_samples -= b.live_samples;
    return a;
  }
  friend bool operator==(const Counts& a, const Counts& b) {
    return a.live_objs == b.live_objs && a.live_bytes == b.live_bytes &&
           a.alloc_objs == b.alloc_objs && a.alloc_bytes == b.alloc_bytes &&
           a.live_samples == b.live_samples;
  }
};

// The age of one stack's live blocks (docs/snapshot-format.md, "Age of live memory"), unsampled
// like Counts. Sums over stacks with +=.
struct AgeCounts {
  std::array<int64_t, format::kAgeBuckets> objs{};
  std::array<int64_t, format::kAgeBuckets> bytes{};
  double byte_seconds = 0;  // mean age x bytes: sums, and divides back into a mean
  double obj_seconds = 0;   // mean age x objects (for blocks with no bytes)
  // Per age-cutoff of the snapshot (Snapshot::age->cutoffs): live bytes allocated before it.
  std::vector<int64_t> before_bytes;

  int64_t total_bytes() const;
  int64_t total_objs() const;
  // Byte-weighted mean age in seconds; nullopt when nothing is live.
  std::optional<double> mean_s() const;
  // The oldest bucket holding a live block; -1 when nothing is live.
  int oldest_bucket() const;
  AgeCounts& operator+=(const AgeCounts& o);
};

struct StackSample {
  Counts counts;
  std::vector<uint64_t> addrs;  // return addresses, leaf first, as written in the file
};

// The snapshot's `age` and `age-cutoff` lines: the probe counted its live blocks by age.
struct AgeHeader {
  uint32_t resolution_s = 1;
  struct Cutoff {
    int64_t sequence = 0;
    double time = 0;  // parsed like `time`, so a snapshot's own time compares equal
  };
  std::vector<Cutoff> cutoffs;
};

// One executable mapping from MAPPED_LIBRARIES (non-executable ones cannot hold a return
// address, so they are dropped while parsing).
struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;     // exclusive
  uint64_t offset = 0;  // file offset of `start`
  std::string path;     // may be empty or a pseudo name like [vdso]
};

// One line of a resource section: descriptors, POSIX timers or threads of one kind created
// from one stack (docs/snapshot-format.md, "Resource sections"). Never sampled.
struct ResourceSample {
  std::string kind;     // a section name from snapshot_format.h: "tcp", "timer", "thread", ...
  int64_t live = 0;     // open (running) at snapshot time
  int64_t created = 0;  // cumulative since the probe started
  std::vector<uint64_t> addrs;  // creating stack, leaf first; empty = inherited at start-up
};

enum class Flavour { kLeakprobe, kGperftools, kPprof };

// The name reports print for a flavour (text header, JSON "flavour").
inline const char* flavour_name(Flavour f) {
  switch (f) {
    case Flavour::kLeakprobe:
      return "leakprobe";
    case Flavour::kGperftools:
      return "gperftools";
    case Flavour::kPprof:
      return "pprof";
  }
  return "gperftools";
}

// A frame the input names itself: pprof profiles carry function names and lines (every Go
// profile does), so these frames are shown as the profile says and never symbolized.
struct NamedFrame {
  std::string module;                    // the mapping's file, "" if the profile has none
  std::vector<symbolize::Frame> frames;  // innermost (inlined) first, like the symbolizer's
  uint64_t address = 0;                  // the location's address in the profile (display)
  bool go = false;                       // Go's naming rules apply (go_frames.h)
};

// The probe's `recording` line: whether it recorded when the snapshot was written, and since
// when (docs/snapshot-format.md).
struct RecordingState {
  std::string state;                   // "on", "off", "dormant" (or a newer probe's word)
  double since = 0;                    // unix seconds: when that state began
  std::optional<double> first_switch;  // `recording-changed`: when it was first switched
  bool on() const { return state == "on"; }
};

// The probe's `attached` line (docs/snapshot-format.md): it was attached to a running process
// (`leakprobe attach`), so the heap from before `since` is in no stack line.
struct AttachInfo {
  double since = 0;                         // unix seconds: when recording was attached
  std::optional<int64_t> heap_live;         // malloc's bytes in use then
  std::optional<int64_t> unrecorded_frees;  // frees since of blocks from before (exact mode)
  std::optional<int64_t> unrecorded_freed_bytes;
};

// One `incomplete` line: something the snapshot is known to miss, from `since` on.
struct IncompleteMark {
  std::string reason;  // "stack-table-full", "deepbind-frees", "foreign-malloc", ...
  std::optional<double> since;
};

// Is a profile with this sampling rate (Snapshot::sampling) sampled, i.e. are its figures
// estimates? The one test every reader and writer uses: 0 is exact, and so is 1 (every byte
// is a sample point).
inline bool is_sampled(int64_t sampling) { return sampling > 1; }

struct Snapshot {
  std::string name;  // the file name given by the user, used in every message
  Flavour flavour = Flavour::kGperftools;

  // What is counted: "heap" (bytes and objects), or for a pprof count profile its sample
  // type ("goroutine"), counted in Counts::live_objs with bytes 0. Only equal kinds compare.
  std::string kind = "heap";

  // 0 for exact profiles ("@ heapprofile"), else N of "@ heap_v2/N" (mean bytes per sample).
  // Ask is_sampled(), not the number: heap_v2/1 samples every byte, i.e. is exact.
  int64_t sampling = 0;

  // Metadata from "# leakprobe.<key>:" lines; absent in gperftools dumps.
  std::optional<int> format;
  std::optional<int64_t> pid;
  std::optional<int64_t> ppid;
  std::optional<int64_t> pid_namespace;  // same pid, other namespace: another process
  std::optional<std::string> exe;
  std::optional<double> time;  // unix seconds
  std::optional<int64_t> sequence;
  std::optional<std::string> trigger;
  std::optional<int64_t> depth;
  std::optional<int64_t> declared_stacks;
  std::optional<int64_t> truncated_stacks;
  // The file whose malloc the program called instead of the probe's (a wrong LD_PRELOAD
  // order): the snapshot saw no allocations.
  std::optional<std::string> foreign_malloc;
  std::optional<int64_t> probe_bytes;
  std::optional<RecordingState> recording;  // absent: older probes and gperftools dumps
  std::optional<AttachInfo> attached;       // present only for an attached probe
  std::vector<IncompleteMark> incomplete;
  std::map<std::string, std::string> build_ids;  // path -> lowercase hex build-id

  std::vector<StackSample> stacks;
  // Present when the probe counted the live blocks by age (then every stack line has its
  // AgeCounts); absent in older snapshots, gperftools dumps and pprof input: age unknown.
  std::optional<AgeHeader> age;
  // With `age`: the age-stack line of each stack line, by its index in `stacks` (kept apart
  // so that snapshots without ages, and the 1M-line inputs heapdiff bounds, cost nothing more
  // per stack); `stack_age_seen[i]` false where a line had none.
  std::vector<AgeCounts> stack_ages;
  std::vector<bool> stack_age_seen;
  // Addresses in `stacks` that the input named itself (pprof input); see NamedFrame.
  std::unordered_map<uint64_t, NamedFrame> named_frames;
  // Resource tracking: `resources_tracked` is set when the snapshot says whether the probe
  // tracked them (absent in older snapshots and gperftools dumps).
  std::optional<bool> resources_tracked;
  std::optional<int64_t> untracked_fds;
  std::optional<int64_t> unseen_closes;
  std::vector<ResourceSample> resources;
  MemoryFacts memory;             // the memory section (memory.h); memory.present() if it had one
  std::vector<Mapping> mappings;  // executable mappings, sorted by start
  std::string first_mapped_path;  // first file-backed line of MAPPED_LIBRARIES, in file order

  Counts totals;  // sum over `stacks` after unsampling (the header's numbers are not trusted)

  // The program this snapshot belongs to: the exe metadata, or for gperftools dumps the
  // path of the first file-backed mapping (Linux lists the main executable first).
  std::string program() const;

  // Executable mapping containing `pc`, or nullptr.
  const Mapping* find_mapping(uint64_t pc) const;
};

// What `s` is compared with when it is the only snapshot given (heapdiff SNAPSHOT): the same
// program, profile kind and sampling, with nothing live, nothing allocated and no time, so
// every entry's growth is what is live in `s`.
Snapshot nothing_before(const Snapshot& s);

}  // namespace leakprobe::analysis
