// Reads leakprobe snapshots and gperftools HEAPPROFILE dumps (both the pprof legacy
// heap-profile text format; grammar in docs/snapshot-format.md).
//
// The parser is a plain function over a string so that it can be fuzzed
// (tests/fuzz) and unit-tested without files. It is linear in the input, allocates only
// for what it keeps, and never throws: every problem comes back as an Error whose message
// starts with "<name>:<line>: " (or "<name>: " for whole-file problems such as truncation).
#pragma once

#include <string>
#include <string_view>

#include "leakprobe/analysis/result.h"
#include "leakprobe/analysis/snapshot.h"

namespace leakprobe::analysis {

// Parses one snapshot held in `text`; `name` is only used in error messages and reports.
Result<Snapshot> parse_snapshot(std::string_view text, std::string name);

// Reads the file at `path` and parses it; a missing/unreadable file is an Error too.
Result<Snapshot> load_snapshot(const std::string& path);

// pprof's unsampling of one (count, size) pair of a "heap_v2/<rate>" profile: both are
// multiplied by format::unsample_scale (leakprobe/sampling.h) and truncated to int64.
void unsample(int64_t& count, int64_t& size, int64_t rate);

}  // namespace leakprobe::analysis
