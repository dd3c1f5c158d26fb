#include "leakprobe/analysis/compat.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace leakprobe::analysis {
namespace {

// What the file says its sampling is, for the refusal (the reports' sampling_text() says only
// "exact" or "sampled/N").
std::string sampling_description(int64_t sampling) {
  const std::string header = "heap_v2/" + std::to_string(sampling);
  if (!is_sampled(sampling))
    return sampling <= 0 ? "exact (heapprofile)" : "exact (" + header + ")";
  return "sampled every " + std::to_string(sampling) + " bytes (" + header + ")";
}

}  // namespace

std::optional<Error> check_compatible(const std::vector<const Snapshot*>& snapshots) {
  if (snapshots.empty()) return std::nullopt;
  const Snapshot& first = *snapshots.front();
  for (size_t i = 1; i < snapshots.size(); ++i) {
    const Snapshot& s = *snapshots[i];
    if (first.kind != s.kind) {
      return Error{first.name + " is a " + first.kind + " profile and " + s.name + " is a " +
                   s.kind + " profile; only profiles of the same kind can be compared"};
    }
    const std::string a = first.program();
    const std::string b = s.program();
    if (!a.empty() && !b.empty() && a != b) {
      return Error{first.name + " and " + s.name + " are snapshots of different programs (" + a +
                   " vs " + b + ")"};
    }
    if (first.sampling != s.sampling) {
      return Error{first.name + " and " + s.name + " use different sampling rates (" +
                   sampling_description(first.sampling) + " vs " +
                   sampling_description(s.sampling) + "); their numbers cannot be compared"};
    }
  }
  return std::nullopt;
}

bool other_process(const Snapshot& a, const Snapshot& b) {
  if (!a.pid || !b.pid) return false;
  if (*a.pid != *b.pid) return true;
  // Pid 1 of two containers writing one directory: one pid, two processes.
  return a.pid_namespace && b.pid_namespace && *a.pid_namespace != *b.pid_namespace;
}

std::optional<Error> check_same_process(const std::vector<const Snapshot*>& snapshots,
                                        bool allowed) {
  if (allowed || snapshots.empty()) return std::nullopt;
  const Snapshot& first = *snapshots.front();
  for (const Snapshot* s : snapshots) {
    if (!other_process(first, *s)) continue;
    std::string how;
    if (*s->pid == *first.pid) {
      how = " (one pid in two pid namespaces, " + std::to_string(*first.pid_namespace) + " and " +
            std::to_string(*s->pid_namespace) + ")";
    } else if (s->ppid && *s->ppid == *first.pid) {
      how = " (" + s->name + "'s process was forked from " + first.name + "'s)";
    } else if (first.ppid && *first.ppid == *s->pid) {
      how = " (" + first.name + "'s process was forked from " + s->name + "'s)";
    }
    return Error{first.name + " (pid " + std::to_string(*first.pid) + ") and " + s->name +
                 " (pid " + std::to_string(*s->pid) + ") are snapshots of different processes" +
                 how +
                 ": what one allocated the other never saw, so their difference is no leak; "
                 "compare snapshots of one process (leakprobe." +
                 std::to_string(*first.pid) +
                 ".*.heap), or pass --allow-different-processes to compare live sizes only"};
  }
  return std::nullopt;
}

std::vector<size_t> trend_order(const std::vector<const Snapshot*>& snapshots) {
  std::vector<size_t> order(snapshots.size());
  std::iota(order.begin(), order.end(), 0);
  const bool all_timed = std::all_of(snapshots.begin(), snapshots.end(),
                                     [](const Snapshot* s) { return s->time.has_value(); });
  if (!all_timed) return order;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Snapshot& x = *snapshots[a];
    const Snapshot& y = *snapshots[b];
    if (*x.time != *y.time) return *x.time < *y.time;
    return x.sequence.value_or(0) < y.sequence.value_or(0);
  });
  return order;
}

}  // namespace leakprobe::analysis
