// The markdown report: tables of medians, ranges and ratios per workload, files written, and
// the cost goals and the checks against the rivals, each marked met or missed (by how much).
#pragma once

#include <string>

#include "results.h"

namespace bench {

std::string render_markdown(const Results& results);

}  // namespace bench
