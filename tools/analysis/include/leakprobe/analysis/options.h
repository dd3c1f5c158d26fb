// What an analysis is asked for: heapdiff's options as the analysis library takes them. Its
// own header so that the heap analysis (analysis.h) and the resource analysis (resources.h)
// both take it without including each other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace leakprobe::analysis {

enum class SortKey { kBytes, kObjects };
enum class GroupBy { kStack, kFunction, kLine };

struct Options {
  SortKey sort = SortKey::kBytes;
  GroupBy by = GroupBy::kStack;
  size_t top = 10;
  std::string focus;          // ECMAScript regex on Row::match_text(); "" = none
  std::string ignore;         // same; stacks with a matching frame are dropped
  std::string fold;           // same; leading frames matching it are folded like allocator frames
  bool fold_wrappers = true;  // find allocation wrappers in the stacks and fold them (wrappers.h)
  int64_t min_bytes = 0;      // entries whose |Δlive bytes| is smaller are not listed
  std::optional<int64_t> fail_on_growth;           // CI gate threshold in bytes; nullopt: no gate
  std::optional<int64_t> fail_on_resource_growth;  // CI gate on resources, a count
  bool keep_changed_stacks = false;  // fill Analysis::changed_stacks (--html, --pprof)
  // Compare snapshots of different pids (live sizes only: the allocation counters restart
  // with each process); refused otherwise (check_same_process).
  bool allow_different_processes = false;
};

}  // namespace leakprobe::analysis
