// Report writers: the text table for people, the JSON document for machines (schema in
// docs/heapdiff.md) and the HTML page. They only render an Analysis; none decides anything.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/site_label.h"

namespace leakprobe::analysis {

// How to render, never what to report (that is Options, inside the Analysis).
struct ReportContext {
  bool full_names = false;  // text: full demangled names and full paths (--full-names)
  bool wide = false;        // text: never cut the table's site column (--wide)
  bool brief = false;       // text: the ranked tables only, no summary or stacks (--brief)
};

// The text report's table fits this many columns unless ReportContext::wide is set.
inline constexpr size_t kTextReportWidth = 120;

// `text` with every control character but the newline escaped (\x1b, \x00, \x7f; C1
// controls as \u009b): what reaches a terminal from names in the input. The text report is
// passed through it whole; heapdiff's stderr lines too.
std::string terminal_safe(std::string_view text);

void write_text_report(std::ostream& out, const Analysis& analysis, const ReportContext& ctx);
void write_json_report(std::ostream& out, const Analysis& analysis, const ReportContext& ctx);
// The text report's resource part (after the heap part; report_resources_text.cpp).
void write_resources_text(std::ostream& out, const Analysis& analysis, const ReportContext& ctx);
// The text report's memory part: RSS waterfall, verdict, advice (report_memory_text.cpp).
void write_memory_text(std::ostream& out, const Analysis& analysis);
// One self-contained HTML page (docs/heapdiff.md, "HTML report"); the flame graph needs
// Analysis::changed_stacks (Options::keep_changed_stacks).
void write_html_report(std::ostream& out, const Analysis& analysis, const ReportContext& ctx);

// One line for stderr, without the program name: "note: ..." or "warning: ...".
std::string warning_text(const Warning& warning);

// An attached probe's inputs (`leakprobe attach`): "recording began <time> (leakprobe attach):
// blocks from before are in no stack; <bytes> was live then; ...", from the newest input that
// says so; "" when no input was attached. The text and HTML reports print it as it is.
std::string attached_text(const Analysis& a);

}  // namespace leakprobe::analysis
