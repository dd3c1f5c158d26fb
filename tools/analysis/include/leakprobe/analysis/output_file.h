// Report files (--html, --pprof) appear whole or not at all: the bytes go to a temporary file
// beside the target, which is renamed over it only once everything was written. A failure
// (full disk, a crash half-way) leaves no partial report that a CI step would pick up.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "leakprobe/analysis/result.h"

namespace leakprobe::analysis {

// Writes `bytes` to `path` (mode 0644, replacing it) through "<path>.tmp.<pid>". The error
// reads "cannot write <what><path>: ...", e.g. what = "the HTML report to ".
std::optional<Error> write_file_whole(const std::string& path, std::string_view bytes,
                                      const std::string& what);

}  // namespace leakprobe::analysis
