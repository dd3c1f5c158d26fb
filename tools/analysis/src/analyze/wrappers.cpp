#include "leakprobe/analysis/wrappers.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace leakprobe::analysis {
namespace {

// Wrappers of wrappers and a wrapper's own helpers (paho's mymalloc adds every block to a
// tree, whose node allocation sits two rows below it) are found one level per round.
constexpr int kRounds = 4;

struct Candidate {
  std::set<std::string> callers;
  std::set<uint64_t> allocator_calls;  // offsets of the calls it makes into the allocator
  size_t stacks = 0;
  size_t under_wrapper = 0;  // stacks in which a folded wrapper calls it within kLookUp rows
  std::string wrapper;       // that wrapper (the first seen)
  bool unnamed = false;
};

using Key = std::pair<std::string, std::string>;  // (module, function)

constexpr size_t kLookUp = 4;

// Rows `from` .. `from + count - 1` of `stack` (fewer at its end), symbolizing only the frames
// up to them.
std::vector<const Row*> rows_from(const SymbolTable& table, const std::vector<uint32_t>& stack,
                                  size_t from, size_t count) {
  std::vector<const Row*> out;
  size_t k = 0;
  for (uint32_t f : stack) {
    for (const Row& r : table.rows(f)) {
      if (k++ < from) continue;
      out.push_back(&r);
      if (out.size() == count) return out;
    }
  }
  return out;
}

}  // namespace

std::vector<FoldedWrapper> fold_allocation_wrappers(const MergedProfile& profile,
                                                    SymbolTable& table) {
  std::vector<FoldedWrapper> found;
  std::set<Key> folded;
  for (int round = 0; round < kRounds; ++round) {
    std::map<Key, Candidate> candidates;
    for (const MergedStack& stack : profile.stacks) {
      if (stack.frames.empty()) continue;
      const std::vector<const Row*> rows =
          rows_from(table, stack.frames, table.folded_rows(stack.frames), kLookUp + 1);
      if (rows.empty()) continue;
      const Row& lead = *rows.front();
      if (lead.function.empty() || is_allocator_function(lead.function) ||
          is_allocator_module(lead.module)) {
        continue;  // unknown code, or a stack of allocator rows only (kept whole)
      }
      Candidate& c = candidates[{lead.module, lead.function}];
      ++c.stacks;
      c.unnamed = lead.unnamed;
      c.allocator_calls.insert(lead.offset);
      if (rows.size() > 1) {
        const Row& caller = *rows[1];
        if (!(caller.module == lead.module && caller.function == lead.function)) {
          c.callers.insert(caller.function.empty()
                               ? caller.module + "+" + std::to_string(caller.offset)
                               : caller.module + "!" + caller.function);
        }
      }
      for (size_t j = 1; j < rows.size(); ++j) {
        if (folded.count({rows[j]->module, rows[j]->function}) > 0) {
          if (c.under_wrapper++ == 0) c.wrapper = rows[j]->function;
          break;
        }
      }
    }
    const size_t before = found.size();
    for (const auto& [key, c] : candidates) {
      if (is_runtime_module(key.first) || is_runtime_function(key.second)) continue;
      const bool wrapper =
          c.callers.size() >= kMinCallers && c.allocator_calls.size() <= kMaxAllocatorCalls;
      const bool helper = c.under_wrapper == c.stacks;
      if (!wrapper && !helper) continue;
      found.push_back(FoldedWrapper{key.second, key.first, c.unnamed, c.callers.size(), c.stacks,
                                    wrapper ? std::string() : c.wrapper});
    }
    if (found.size() == before) break;
    for (size_t i = before; i < found.size(); ++i) {
      table.fold_function(found[i].module, found[i].function);
      folded.insert({found[i].module, found[i].function});
    }
  }
  std::stable_sort(found.begin(), found.end(), [](const FoldedWrapper& a, const FoldedWrapper& b) {
    return a.helper_of.empty() != b.helper_of.empty() ? a.helper_of.empty() : a.stacks > b.stacks;
  });
  return found;
}

}  // namespace leakprobe::analysis
