// pprof protobuf profiles as heapdiff input: Go heap and goroutine profiles (what
// net/http/pprof serves) and heap profiles written by other tools, gzipped or not.
//
// A profile becomes a Snapshot like any other, so diff, trend, --by, --focus/--ignore, JSON
// and the CI gate need nothing of their own:
// - heap profiles (sample types inuse_objects/inuse_space/alloc_objects/alloc_space, any
//   subset): kind "heap", the values land in Counts as named. pprof's proto values are
//   estimates of the real numbers already (Go scales them when it writes the profile, see
//   runtime/pprof/protomem.go), so they are used as written, as `go tool pprof` does; the
//   sampling rate (period of a space/bytes period_type) is kept so that profiles sampled at
//   different rates are not compared.
// - count profiles (a single sample type with unit "count", e.g. goroutine/count): kind is the
//   sample type's name ("goroutine"), the count lands in Counts::live_objs, bytes stay 0.
// - anything else (cpu, block, mutex, ...) is refused with a message naming the sample types.
//
// Frames the profile names itself (Locations with Line/Function data, as in every Go profile)
// become Snapshot::named_frames: heapdiff shows the profile's own function, file and line and
// never asks the ELF symbolizer about them. Their stack addresses are synthetic, derived from
// the names and lines, so that the same code lines up across profiles even when its addresses
// differ (another build, PIE). Locations with no Line data keep their real address and
// mapping and are symbolized from the binary like a snapshot's frames.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "leakprobe/analysis/parser.h"
#include "leakprobe/analysis/result.h"
#include "leakprobe/analysis/snapshot.h"

namespace leakprobe::analysis {

// How heapdiff tells the formats apart, by content only: gzipped or binary bytes are a pprof
// profile, text ("heap profile: ...") is a snapshot.
bool looks_like_pprof(std::string_view first_bytes);

// Parses a pprof profile held in `bytes` (gzipped or raw protobuf, at most `max_bytes` once
// decompressed). `name` is used in messages and reports; messages start with "<name>: ".
Result<Snapshot> parse_pprof(std::string_view bytes, std::string name,
                             size_t max_bytes = kDefaultMaxInputBytes);

// Reads a snapshot file of either format (decided by looks_like_pprof on its first bytes).
// `max_bytes` bounds a text snapshot as load_snapshot does, and a pprof profile both as a
// file and once decompressed.
Result<Snapshot> load_input(const std::string& path, uint64_t max_bytes = kDefaultMaxInputBytes);

}  // namespace leakprobe::analysis
