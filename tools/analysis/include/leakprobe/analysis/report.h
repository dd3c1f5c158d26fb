// Report writers: the text table for people and the JSON document for machines (schema in
// docs/heapdiff.md). Both only format an Analysis; neither decides anything.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>

#include "leakprobe/analysis/analysis.h"

namespace leakprobe::analysis {

struct ReportContext {
  Options options;
  std::optional<int64_t> fail_on_growth;  // threshold in bytes, if the CI gate is on
  bool full_names = false;  // text: full demangled names and full paths (--full-names)
  bool wide = false;        // text: never cut the table's site column (--wide)
};

// The CI gate: the growth (sum of Δlive bytes over the stacks that grew, after --focus and
// --ignore) is strictly larger than the threshold.
bool growth_exceeds(const Analysis& analysis, int64_t threshold);

// The text report's table fits this many columns unless ReportContext::wide is set.
inline constexpr size_t kTextReportWidth = 120;

void write_text_report(std::ostream& out, const Analysis& analysis, const ReportContext& ctx);
void write_json_report(std::ostream& out, const Analysis& analysis, const ReportContext& ctx);

}  // namespace leakprobe::analysis
