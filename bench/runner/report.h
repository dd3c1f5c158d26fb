// The markdown report: tables of medians, ranges and ratios per workload, files written, and
// the goals of issues 8 and 5 each marked met or missed (by how much).
#pragma once

#include <string>

#include "results.h"

namespace bench {

std::string render_markdown(const Results& results);

}  // namespace bench
