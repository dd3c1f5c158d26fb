// Symbolizer warnings as a person wants them: a broker maps a dozen libraries without debug
// info, and a dozen near-identical lines bury the one that matters (a build-id mismatch).
#pragma once

#include <string>
#include <vector>

namespace leakprobe::analysis {

// Merges the per-module "no debug info for PATH: ..." and "no symbols or debug info for
// PATH; ..." warnings of leakprobe::symbolize::Symbolizer into one line each, listing the
// modules by file name and saying what it means for the report. Every other warning is kept
// as it is, in order; a merged line takes the place of its first module's warning.
std::vector<std::string> collapse_symbolizer_warnings(const std::vector<std::string>& warnings);

}  // namespace leakprobe::analysis
