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

// Open-addressing map from raw address to frame id. A 100k-stack snapshot looks up ~2M
// addresses of which only a few thousand are distinct; std::unordered_map spent most of the
// merge chasing its nodes.
class AddressMap {
 public:
  // Returns the slot for `addr`; *found tells whether it was already there.
  uint32_t* find_or_insert(uint64_t addr, bool* found) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    size_t i = slot(addr, keys_.size());
    while (used_[i] && keys_[i] != addr) i = (i + 1) & (keys_.size() - 1);
    *found = used_[i];
    if (!used_[i]) {
      used_[i] = true;
      keys_[i] = addr;
      ++size_;
    }
    return &values_[i];
  }

 private:
  static size_t slot(uint64_t addr, size_t capacity) {
    return static_cast<size_t>((addr * 0x9e3779b97f4a7c15ULL) >> 20) & (capacity - 1);
  }
  void grow() {
    const size_t capacity = keys_.empty() ? 1024 : keys_.size() * 2;
    std::vector<uint64_t> keys(capacity);
    std::vector<uint32_t> values(capacity);
    std::vector<bool> used(capacity);
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (!used_[i]) continue;
      size_t j = slot(keys_[i], capacity);
      while (used[j]) j = (j + 1) & (capacity - 1);
      used[j] = true;
      keys[j] = keys_[i];
      values[j] = values_[i];
    }
    keys_.swap(keys);
    values_.swap(values);
    used_.swap(used);
  }

  std::vector<uint64_t> keys_;
  std::vector<uint32_t> values_;
  std::vector<bool> used_;
  size_t size_ = 0;
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
    AddressMap by_addr;
    std::vector<uint32_t> frames;
    stack_ids.reserve(stack_ids.size() + snap.stacks.size());
    for (const StackSample& sample : snap.stacks) {
      frames.clear();
      for (uint64_t addr : sample.addrs) {
        bool found = false;
        uint32_t* cached = by_addr.find_or_insert(addr, &found);
        if (found) {
          frames.push_back(*cached);
          continue;
        }
        auto module_id = [&](const std::string& path) {
          auto [it, inserted] = module_ids.emplace(path, static_cast<int32_t>(out.modules.size()));
          if (inserted) {
            auto bid = snap.build_ids.find(path);
            out.modules.push_back({path, bid == snap.build_ids.end() ? "" : bid->second});
          }
          return it->second;
        };
        // Return addresses point after the call; the call itself is at addr - 1.
        const uint64_t pc = addr == 0 ? 0 : addr - 1;
        FrameKey key;
        key.offset = pc;
        const auto named = snap.named_frames.find(addr);
        if (named != snap.named_frames.end()) {
          key.offset = addr;
          if (!named->second.module.empty()) key.module = module_id(named->second.module);
        } else if (const Mapping* m = snap.find_mapping(pc)) {
          key.module = module_id(m->path);
          key.offset = pc - m->start + m->offset;
        }
        auto [fit, finserted] = frame_ids.emplace(key, static_cast<uint32_t>(out.frames.size()));
        if (finserted) {
          out.frames.push_back(key);
          out.named.push_back(named != snap.named_frames.end() ? &named->second : nullptr);
        }
        *cached = fit->second;
        frames.push_back(fit->second);
      }
      auto [sit, sinserted] = stack_ids.emplace(frames, static_cast<uint32_t>(out.stacks.size()));
      if (sinserted) {
        out.stacks.push_back({frames, std::vector<Counts>(snapshots.size()), {}});
      }
      // Distinct raw stacks can normalise to the same one (e.g. a library mapped twice).
      MergedStack& merged = out.stacks[sit->second];
      merged.series[si] += sample.counts;
      if (si + 1 == snapshots.size() && snap.age) {
        const size_t i = static_cast<size_t>(&sample - snap.stacks.data());
        if (i >= snap.stack_age_seen.size() || !snap.stack_age_seen[i]) {
          merged.last_age_missing = true;
        } else if (merged.last_age) {
          *merged.last_age += snap.stack_ages[i];
        } else {
          merged.last_age = snap.stack_ages[i];
        }
      }
    }
  }
  return out;
}

}  // namespace leakprobe::analysis
