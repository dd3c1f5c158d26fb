// The memory part of the text report: the RSS of both snapshots as a waterfall whose parts add
// up to it, the verdict (is it a leak?) and the advice. First in the report when RSS grew, after
// the stacks otherwise. Renders Analysis::memory; decides nothing.
#include <cstdio>
#include <ostream>

#include "leakprobe/analysis/report.h"
#include "leakprobe/analysis/units.h"

namespace leakprobe::analysis {
namespace {

void row(std::ostream& out, const char* label, uint64_t base, uint64_t now) {
  char line[160];
  const int64_t change = static_cast<int64_t>(now) - static_cast<int64_t>(base);
  snprintf(line, sizeof(line), "  %-34s %12s %12s %13s\n", label,
           format_bytes(static_cast<int64_t>(base)).c_str(),
           format_bytes(static_cast<int64_t>(now)).c_str(), format_bytes(change, true).c_str());
  out << line;
}

std::string share(uint64_t part, uint64_t whole) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.1f%%", whole ? 100.0 * static_cast<double>(part) / whole : 0.0);
  return buf;
}

}  // namespace

void write_memory_text(std::ostream& out, const Analysis& a) {
  if (!a.memory) return;
  const MemoryReport& m = *a.memory;
  const MemoryAccount& b = m.base;
  const MemoryAccount& n = m.now;
  out << "memory: " << memory_verdict_name(m.verdict) << ": " << m.reason << "\n";
  char head[160];
  snprintf(head, sizeof(head), "  %-34s %12s %12s %13s\n", "where the resident memory is", "base",
           "new", "change");
  out << head;
  row(out, "RSS", b.rss, n.rss);
  row(out, "  live heap (the stacks)", b.heap_live, n.heap_live);
  if (n.heap_known) {
    row(out, "  malloc overhead (headers, slack)", b.heap_overhead, n.heap_overhead);
    row(out, "  heap from before recording", b.heap_before_recording, n.heap_before_recording);
    row(out, "  free in malloc: top of arenas", b.heap_free_top, n.heap_free_top);
    row(out, "  free in malloc: holes", b.heap_free_interior, n.heap_free_interior);
  }
  row(out, "  thread stacks", b.thread_stacks, n.thread_stacks);
  row(out, "  other anonymous (mmap)", b.other_anon, n.other_anon);
  row(out, "  file-backed", b.file, n.file);
  row(out, "  leakprobe itself", b.probe, n.probe);
  row(out, "  sum of the parts", b.sum(), n.sum());
  out << "  the parts add up to " << share(n.sum(), n.rss) << " of the newer RSS";
  if (n.clamped) out << " (some figures disagreed and were cut at 0)";
  out << "\n";
  if (n.heap_known) {
    out << "  malloc_trim(0) would return about "
        << format_bytes(static_cast<int64_t>(n.releasable)) << " now; " << n.arenas_holding_free
        << " of " << n.arenas << " malloc arenas hold 1 MiB or more free\n";
  }
  for (const MemoryAdvice& advice : m.advice) out << "  advice: " << advice.text << "\n";
}

}  // namespace leakprobe::analysis
