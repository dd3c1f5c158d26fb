// Pieces of the HTML report shared by its sections (report_html.cpp, report_html_resources.cpp).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/site_label.h"

namespace leakprobe::analysis::html {

// Text for HTML element content and attribute values.
std::string esc(const std::string& s);

// One stack row: "[inlined] function — file:line (module+0xoffset)", NamePrinter's name.
std::string row_html(const Row& r, const NamePrinter& name);

// A table's site: the label's fields (site_label), the full function name and file:line
// (`full_location`) on hover.
std::string site_html(const SiteLabel& label, const std::string& full_function,
                      const std::string& full_location);

// A small line chart of `values` (one per snapshot), scaled to their own range; its title
// lists the values (as byte sizes when `bytes`).
std::string sparkline(const std::vector<int64_t>& values, bool bytes);

// The resources section: descriptors, POSIX timers and threads by creating stack.
void write_resources(std::ostream& out, const Analysis& a);

// The memory section: verdict, RSS waterfall chart, advice (report_html_memory.cpp).
void write_memory(std::ostream& out, const Analysis& a);

}  // namespace leakprobe::analysis::html
