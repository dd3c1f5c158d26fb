#include "leakprobe/analysis/interval.h"

#include <map>
#include <string>

#include "leakprobe/snapshot_format.h"

namespace leakprobe::analysis {

namespace fmt = leakprobe::format;

void check_interval(const std::vector<const Snapshot*>& snapshots, std::vector<Warning>& out) {
  if (snapshots.empty()) return;
  const Snapshot& first = *snapshots.front();
  for (size_t i = 1; i < snapshots.size(); ++i) {
    const Snapshot& s = *snapshots[i];
    if (!s.recording || s.recording->state.empty()) continue;  // an older probe: not said
    const RecordingState& r = *s.recording;
    // "on since T" covers the interval when T is not after the first snapshot: recording has
    // not stopped since. Any other state means blocks allocated in part of the interval were
    // never recorded (frees still were), so the difference understates the growth.
    // Only within one process: another process's recording started with it, so its "since"
    // says nothing about the first snapshot's time (--allow-different-processes).
    const bool same_process = !s.pid || !first.pid || *s.pid == *first.pid;
    const bool enabled_late = r.on() && same_process && first.time && r.since > *first.time;
    if (r.on() && !enabled_late) continue;
    Warning w;
    w.kind = Warning::Kind::kRecordingOff;
    w.subjects = {s.name, first.name};
    w.reason = r.state;
    w.time = r.since;
    out.push_back(std::move(w));
  }
  // One warning per reason, in the order the reasons first appear.
  std::map<std::string, size_t> by_reason;
  for (const Snapshot* s : snapshots) {
    for (const IncompleteMark& m : s->incomplete) {
      // Its foreign-malloc line already is a warning of its own, naming the allocator.
      if (s->foreign_malloc && m.reason == fmt::kIncompleteForeignMalloc) continue;
      auto [it, fresh] = by_reason.emplace(m.reason, out.size());
      if (fresh) {
        Warning w;
        w.kind = Warning::Kind::kIncomplete;
        w.reason = m.reason;
        out.push_back(std::move(w));
      }
      Warning& w = out[it->second];
      if (w.subjects.empty() || w.subjects.back() != s->name) w.subjects.push_back(s->name);
      if (m.since && (!w.time || *m.since < *w.time)) w.time = m.since;
    }
  }
}

}  // namespace leakprobe::analysis
