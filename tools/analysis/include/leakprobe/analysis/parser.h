// Reads leakprobe snapshots and gperftools HEAPPROFILE dumps (both the pprof legacy
// heap-profile text format; grammar in docs/snapshot-format.md).
//
// The parser streams: it is fed bytes in pieces of any size, judges each line as it comes
// (the first line must be a heap-profile header), refuses lines longer than kMaxLineBytes,
// and keeps only what the Snapshot holds, so memory and time are bounded by what a snapshot
// needs, not by the input (/dev/zero is refused after one 64 KiB read). It never throws: every
// problem comes back as an Error whose message starts with "<name>:<line>: " (or "<name>: "
// for whole-file problems such as truncation). parse_snapshot() over a string is what the
// fuzzer and the unit tests drive; it goes through the same reader.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "leakprobe/analysis/result.h"
#include "leakprobe/analysis/snapshot.h"

namespace leakprobe::analysis {

// The longest line a snapshot may have. A stack line of 128 frames is ~2.5 KiB, a mapping
// with a PATH_MAX path ~4.2 KiB; longer means the input is not a snapshot.
inline constexpr size_t kMaxLineBytes = 64 * 1024;

// The largest snapshot file load_snapshot reads by default (heapdiff --max-input changes it).
// A broker's snapshot of 100k stacks is ~20 MB; the probe's worst case at its default
// settings (262144 stacks of 32 frames) ~140 MB.
inline constexpr uint64_t kDefaultMaxInputBytes = uint64_t{256} << 20;

// load_snapshot keeps at most one stack line per this many bytes of its limit (1M stack lines
// at the default): a kept stack costs ~100 bytes of memory even when its line is 20, so the
// limit in bytes alone would not bound memory. Real stack lines are 200-2500 bytes.
inline constexpr uint64_t kInputBytesPerStack = 256;

namespace detail {
class Parser;
}

// Incremental form of parse_snapshot: feed() the bytes as they arrive, split anywhere, then
// finish(). feed() returns false as soon as the input is refused; finish() then returns why.
class SnapshotReader {
 public:
  // `name` is used in messages and reports; more than `max_stacks` stack lines (0: no limit)
  // are refused.
  explicit SnapshotReader(std::string name, uint64_t max_stacks = 0);
  ~SnapshotReader();
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;

  bool feed(std::string_view bytes);
  Result<Snapshot> finish();

 private:
  std::unique_ptr<detail::Parser> parser_;
  std::string partial_;  // the beginning of a line whose '\n' has not come yet
  std::optional<Error> error_;
};

// Parses one snapshot held in `text`; `name` is only used in error messages and reports.
Result<Snapshot> parse_snapshot(std::string_view text, std::string name);

// Reads the file (or pipe, or device) at `path` and parses it as it reads; a missing or
// unreadable file, more than `max_bytes` of input or more than max_bytes /
// kInputBytesPerStack stack lines is an Error too.
Result<Snapshot> load_snapshot(const std::string& path, uint64_t max_bytes = kDefaultMaxInputBytes);

// load_snapshot on an open descriptor (not closed here) whose first bytes, `already_read`,
// were read by the caller to tell the format (pprof_input.h: load_input): a pipe cannot be
// read twice. `path` names the input in messages.
Result<Snapshot> load_snapshot_fd(int fd, const std::string& path, uint64_t max_bytes,
                                  std::string_view already_read);

// pprof's unsampling of one (count, size) pair of a "heap_v2/<rate>" profile: both are
// multiplied by format::unsample_scale (leakprobe/sampling.h) and truncated to int64.
void unsample(int64_t& count, int64_t& size, int64_t rate);

}  // namespace leakprobe::analysis
