#include "leakprobe/analysis/changed_stacks.h"

namespace leakprobe::analysis {

ChangedStackCollector::ChangedStackCollector(const MergedProfile& profile, const SymbolTable& table)
    : profile_(profile), table_(table), index_(profile.frames.size(), -1) {}

uint32_t ChangedStackCollector::frame_index(uint32_t profile_frame) {
  int64_t& index = index_[profile_frame];
  if (index < 0) {
    index = static_cast<int64_t>(out_.frames.size());
    const FrameKey& key = profile_.frames[profile_frame];
    ChangedFrame f;
    f.in_module = key.module != FrameKey::kNoModule;
    if (f.in_module) {
      const Module& m = profile_.modules[static_cast<size_t>(key.module)];
      f.module = m.path;
      f.build_id = m.build_id;
    } else {
      f.module = "[unknown]";
    }
    f.offset = key.offset;
    f.rows = table_.rows(profile_frame);
    out_.frames.push_back(std::move(f));
  }
  return static_cast<uint32_t>(index);
}

void ChangedStackCollector::add(const MergedStack& stack, size_t folded, size_t site,
                                const Counts& delta) {
  ChangedStack out;
  out.delta = delta;
  if (!stack.last_age_missing) out.age = stack.last_age;
  out.site_row = static_cast<uint32_t>(site - folded);
  size_t skip = folded;
  for (uint32_t f : stack.frames) {
    const size_t rows = table_.rows(f).size();
    if (out.frames.empty() && skip >= rows) {
      skip -= rows;  // a frame that is allocator through and through
      continue;
    }
    if (out.frames.empty()) out.skip_rows = static_cast<uint32_t>(skip);
    out.frames.push_back(frame_index(f));
  }
  out_.stacks.push_back(std::move(out));
}

}  // namespace leakprobe::analysis
