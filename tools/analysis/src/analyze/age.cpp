#include "leakprobe/analysis/age.h"

#include <cstdio>

#include "leakprobe/analysis/analysis.h"

namespace leakprobe::analysis {

AgeAvailability age_availability(const std::vector<const Snapshot*>& snapshots, bool one_snapshot,
                                 bool same_process) {
  AgeAvailability a;
  if (snapshots.empty()) return a;
  const Snapshot& last = *snapshots.back();
  if (!last.age) {
    a.unknown_why = last.name + " does not say how old its live blocks are (" +
                    (last.flavour == Flavour::kLeakprobe
                         ? std::string("written by a probe without age tracking")
                         : std::string("a ") + flavour_name(last.flavour) + " profile") +
                    ")";
    a.still_live_unknown_why = a.unknown_why;
    return a;
  }
  a.known = true;
  if (one_snapshot || snapshots.size() < 2) return a;
  const Snapshot& first = *snapshots.front();
  // The survivors of `first` are the blocks the last snapshot counts as allocated before one of
  // its cutoffs, if that cutoff is `first` itself: same process image, same sequence and time.
  if (same_process && first.sequence && first.time && first.pid && last.pid &&
      *first.pid == *last.pid) {
    for (size_t i = 0; i < last.age->cutoffs.size(); ++i) {
      const AgeHeader::Cutoff& c = last.age->cutoffs[i];
      if (c.sequence == *first.sequence && c.time == *first.time) {
        a.still_live_known = true;
        a.cutoff = i;
        return a;
      }
    }
  }
  std::string seqs;
  for (const AgeHeader::Cutoff& c : last.age->cutoffs) {
    seqs += (seqs.empty() ? "" : ", ") + std::to_string(c.sequence);
  }
  a.still_live_unknown_why =
      last.name +
      " counts the still-live blocks of its own process's first and latest earlier "
      "snapshots only (" +
      (seqs.empty() ? std::string("none") : "sequence " + seqs) + "), and " + first.name +
      " is not one of them";
  return a;
}

}  // namespace leakprobe::analysis
