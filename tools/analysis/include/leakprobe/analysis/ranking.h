// The one way the heap and the resource analysis cut their changed entries to the top N: only
// the listed entries need an order, so partial_sort keeps 100k-stack inputs fast.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace leakprobe::analysis {

// Orders `candidates` by `before` (a strict weak order on their values) and keeps the first
// `top` (0: all).
template <typename T, typename Before>
void keep_top(std::vector<T>& candidates, size_t top, Before before) {
  const size_t shown = top > 0 && candidates.size() > top ? top : candidates.size();
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(shown),
                    candidates.end(), before);
  candidates.resize(shown);
}

}  // namespace leakprobe::analysis
