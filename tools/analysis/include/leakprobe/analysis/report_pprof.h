// heapdiff --pprof: the change as a pprof profile (profile.proto, gzipped), so that `go tool
// pprof`, Pyroscope or speedscope show the growth with our symbolizer's names, also for a
// stripped distro binary that pprof itself could only show as [mosquitto].
//
// Sample types inuse_objects/count and inuse_space/bytes hold Δ live (last snapshot minus
// first) per changed stack, negative where it shrank (count profiles such as goroutines:
// their one <kind>/count type with Δ count); allocator frames are folded as in the
// text report. One Mapping per module with has_functions (and has_filenames/has_line_numbers
// where DWARF gave them) set, so pprof uses our names instead of symbolizing again; a frame we
// could not name is called module+0xoffset, as in the text report. A Location
// is one return address with its inlined rows; its address is the file offset of the call,
// placed inside a synthetic per-module range (snapshots from different runs have different
// load addresses, so no real one fits all).
#pragma once

#include <optional>
#include <string>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/pprof/profile_io.h"

namespace leakprobe::analysis {

// The first comment of every profile --pprof writes starts with this: its values are changes
// (negative where memory shrank), not a heap. heapdiff's pprof input refuses such a profile
// by it (pprof_input.cpp) instead of diffing a diff.
inline constexpr char kDeltaProfileComment[] = "leakprobe heapdiff: change in ";

// Needs Analysis::changed_stacks (Options::keep_changed_stacks).
void build_pprof_profile(const Analysis& analysis, pprof::Profile& out);

// build_pprof_profile, gzipped into `path`. The error names the file.
std::optional<Error> write_pprof_report(const std::string& path, const Analysis& analysis);

}  // namespace leakprobe::analysis
