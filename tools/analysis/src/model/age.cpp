// The age of live memory in the model (snapshot.h: AgeCounts): sums over stacks and what a
// report derives from them.
#include <algorithm>

#include "leakprobe/analysis/snapshot.h"

namespace leakprobe::analysis {

int64_t AgeCounts::total_bytes() const {
  int64_t n = 0;
  for (int64_t b : bytes) n += b;
  return n;
}

int64_t AgeCounts::total_objs() const {
  int64_t n = 0;
  for (int64_t o : objs) n += o;
  return n;
}

std::optional<double> AgeCounts::mean_s() const {
  if (const int64_t b = total_bytes(); b > 0) return byte_seconds / static_cast<double>(b);
  if (const int64_t o = total_objs(); o > 0) return obj_seconds / static_cast<double>(o);
  return std::nullopt;
}

int AgeCounts::oldest_bucket() const {
  for (int i = format::kAgeBuckets - 1; i >= 0; --i) {
    if (objs[static_cast<size_t>(i)] > 0) return i;
  }
  return -1;
}

AgeCounts& AgeCounts::operator+=(const AgeCounts& o) {
  for (size_t i = 0; i < objs.size(); ++i) {
    objs[i] += o.objs[i];
    bytes[i] += o.bytes[i];
  }
  byte_seconds += o.byte_seconds;
  obj_seconds += o.obj_seconds;
  if (before_bytes.size() < o.before_bytes.size()) before_bytes.resize(o.before_bytes.size());
  for (size_t i = 0; i < o.before_bytes.size(); ++i) before_bytes[i] += o.before_bytes[i];
  return *this;
}

}  // namespace leakprobe::analysis
