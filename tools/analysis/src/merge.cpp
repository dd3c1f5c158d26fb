#include "leakprobe/analysis/merge.h"

#include <unordered_map>

namespace leakprobe::analysis {
namespace {

struct FrameKeyHash {
  size_t operator()(const FrameKey& k) const {
    return std::hash<uint64_t>()(k.offset * 0x9e3779b97f4a7c15ULL ^
                                 static_cast<uint64_t>(static_cast<uint32_t>(k.module)));
  }
};

struct StackHash {
  size_t operator()(const std::vector<uint32_t>& v) const {
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t x : v) h = (h ^ x) * 1099511628211ULL;
    return static_cast<size_t>(h);
  }
};

}  // namespace

MergedProfile merge_snapshots(const std::vector<const Snapshot*>& snapshots) {
  MergedProfile out;
  out.snapshot_count = snapshots.size();
  std::unordered_map<std::string, int32_t> module_ids;
  std::unordered_map<FrameKey, uint32_t, FrameKeyHash> frame_ids;
  std::unordered_map<std::vector<uint32_t>, uint32_t, StackHash> stack_ids;

  for (size_t si = 0; si < snapshots.size(); ++si) {
    const Snapshot& snap = *snapshots[si];
    // The same return address recurs in thousands of stacks; resolve each once per snapshot.
    std::unordered_map<uint64_t, uint32_t> by_addr;
    std::vector<uint32_t> frames;
    for (const StackSample& sample : snap.stacks) {
      frames.clear();
      for (uint64_t addr : sample.addrs) {
        auto cached = by_addr.find(addr);
        if (cached != by_addr.end()) {
          frames.push_back(cached->second);
          continue;
        }
        // Return addresses point after the call; the call itself is at addr - 1.
        const uint64_t pc = addr == 0 ? 0 : addr - 1;
        FrameKey key;
        key.offset = pc;
        if (const Mapping* m = snap.find_mapping(pc)) {
          auto [it, inserted] =
              module_ids.emplace(m->path, static_cast<int32_t>(out.modules.size()));
          if (inserted) {
            auto bid = snap.build_ids.find(m->path);
            out.modules.push_back({m->path, bid == snap.build_ids.end() ? "" : bid->second});
          }
          key.module = it->second;
          key.offset = pc - m->start + m->offset;
        }
        auto [fit, finserted] = frame_ids.emplace(key, static_cast<uint32_t>(out.frames.size()));
        if (finserted) out.frames.push_back(key);
        by_addr.emplace(addr, fit->second);
        frames.push_back(fit->second);
      }
      auto [sit, sinserted] = stack_ids.emplace(frames, static_cast<uint32_t>(out.stacks.size()));
      if (sinserted) {
        out.stacks.push_back({frames, std::vector<Counts>(snapshots.size())});
      }
      // Distinct raw stacks can normalise to the same one (e.g. a library mapped twice).
      out.stacks[sit->second].series[si] += sample.counts;
    }
  }
  return out;
}

}  // namespace leakprobe::analysis
