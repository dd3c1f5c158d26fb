#include "peak_watch.h"

#include <cstring>

#include "stack_table.h"

namespace leakprobe {

void PeakWatch::init(unsigned growth_pct) {
  growth_pct_ = growth_pct;
  reset();
}

void PeakWatch::published(const PeakFile& file, uint64_t live, PeakFile* previous) {
  *previous = newest_;
  newest_ = file;
  newest_.path[sizeof(newest_.path) - 1] = '\0';
  newest_bytes_ = live;
  // No overflow: live is at most the address space (2^47), growth at most 1000 %.
  threshold_ = live + live * growth_pct_ / 100;
}

uint64_t live_heap_bytes(const StackTable& stacks) {
  uint64_t live = 0;
  for (const Bucket* b = stacks.first(); b; b = b->next) {
    const uint64_t allocated = b->alloc_bytes.load(std::memory_order_relaxed);
    const uint64_t freed = b->freed_bytes.load(std::memory_order_relaxed);
    if (allocated > freed) live += allocated - freed;
  }
  return live;
}

}  // namespace leakprobe
