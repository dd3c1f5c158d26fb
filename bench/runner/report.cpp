#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace bench {

std::optional<Summary> summarize(std::vector<double> values) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  Summary s;
  s.n = values.size();
  s.min = values.front();
  s.max = values.back();
  const size_t mid = values.size() / 2;
  s.median = values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  return s;
}

namespace {

struct Metric {
  const char* key;
  const char* workload;
  const char* title;
  const char* unit;
  bool higher_is_better;
  double display_scale;  // value * scale is shown
};

const Metric kMetrics[] = {
    {"ns_per_pair", "alloc", "alloc loop: time per malloc/free pair", "ns", false, 1},
    {"qos0_msgs_per_s", "broker", "broker QoS 0: messages/s delivered end to end", "msg/s", true,
     1},
    {"qos1_msgs_per_s", "broker", "broker QoS 1: messages/s delivered end to end", "msg/s", true,
     1},
    {"qos0_cpu_us_per_msg", "broker", "broker QoS 0: mosquitto CPU per delivered message", "µs",
     false, 1},
    {"qos1_cpu_us_per_msg", "broker", "broker QoS 1: mosquitto CPU per delivered message", "µs",
     false, 1},
    {"broker_vmhwm_kb", "broker", "broker: mosquitto peak RSS (VmHWM)", "MiB", false, 1.0 / 1024},
};

std::string num(double v) {
  char buf[64];
  const double a = std::fabs(v);
  if (v == std::floor(v) && a < 1e15) {  // counts print as counts
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (a >= 10000) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (a >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (a >= 10) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

// A shortfall: three significant digits, so 0.0019 does not print as "0.00".
std::string diff(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string ratio(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 10 ? "%.0f×" : "%.2f×", v);
  return buf;
}

std::string bytes(double b) {
  char buf[64];
  if (b >= 1024.0 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1024 / 1024);
  } else if (b >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f B", b);
  }
  return buf;
}

std::optional<Summary> metric_summary(const Results& r, const std::string& metric,
                                      const std::string& config) {
  auto m = r.series.find(metric);
  if (m == r.series.end()) return std::nullopt;
  auto c = m->second.find(config);
  if (c == m->second.end()) return std::nullopt;
  return summarize(c->second);
}

// Ratio of the config's median to the unprofiled median.
std::optional<double> ratio_to_none(const Results& r, const std::string& metric,
                                    const std::string& config) {
  auto base = metric_summary(r, metric, "none");
  auto s = metric_summary(r, metric, config);
  if (!base || !s || base->median == 0) return std::nullopt;
  return s->median / base->median;
}

void metric_tables(const Results& r, std::ostringstream& out) {
  for (const Metric& m : kMetrics) {
    out << "\n**" << m.title << "** (" << (m.higher_is_better ? "higher" : "lower")
        << " is better)\n\n"
        << "| configuration | median " << m.unit << " | min–max | ratio to none | runs |\n"
        << "|---|---:|---:|---:|---:|\n";
    for (const Config& c : r.configs) {
      out << "| " << c.name << " | ";
      if (!c.available) {
        out << "not run: " << c.unavailable_reason << " | | | |\n";
        continue;
      }
      auto s = metric_summary(r, m.key, c.name);
      if (!s) {
        out << "no successful run | | | |\n";
        continue;
      }
      auto q = ratio_to_none(r, m.key, c.name);
      out << num(s->median * m.display_scale) << " | " << num(s->min * m.display_scale) << "–"
          << num(s->max * m.display_scale) << " | " << (q ? ratio(*q) : "–") << " | " << s->n
          << " |\n";
    }
  }
}

void files_table(const Results& r, std::ostringstream& out) {
  out << "\n### Files each profiler wrote (per run; median over runs)\n\n"
      << "| workload | configuration | files | total size | example names |\n"
      << "|---|---|---:|---:|---|\n";
  for (const auto& [workload, per_config] : r.files) {
    for (const Config& c : r.configs) {
      auto it = per_config.find(c.name);
      if (it == per_config.end() || it->second.runs == 0) continue;
      const FilesSeen& f = it->second;
      std::vector<double> totals(f.total_bytes.begin(), f.total_bytes.end());
      std::vector<double> counts(f.file_count.begin(), f.file_count.end());
      auto t = summarize(totals);
      auto n = summarize(counts);
      std::string names;
      for (size_t i = 0; i < f.example_names.size() && i < 3; ++i)
        names += (i ? ", " : "") + std::string("`") + f.example_names[i] + "`";
      if (f.example_names.size() > 3) names += ", …";
      out << "| " << workload << " | " << c.name << " | " << (n ? num(n->median) : "0") << " | "
          << (t ? bytes(t->median) : "0") << " | " << names << " |\n";
    }
  }
}

void uptime_table(const Results& r, std::ostringstream& out) {
  if (r.uptime.empty()) return;
  out << "\n### File size vs run length (alloc loop, same ~620 live stacks)\n\n"
      << "leakprobe: `LEAKPROBE_INTERVAL=1`, size of the last periodic snapshot. heaptrack: its "
         "whole-run file, for contrast.\n\n"
      << "| configuration | run length | pairs done | last snapshot | all files |\n"
      << "|---|---:|---:|---:|---:|\n";
  for (const auto& u : r.uptime) {
    out << "| " << u.config << " | " << num(u.seconds) << " s | ";
    if (!u.ok) {
      out << "failed: " << u.error << " | | |\n";
      continue;
    }
    out << num(u.pairs) << " | "
        << (u.last_snapshot_bytes > 0 ? std::to_string(u.last_snapshot_bytes) + " B" : "–") << " | "
        << bytes(static_cast<double>(u.total_bytes)) << " (" << u.files << " files) |\n";
  }
}

std::optional<Summary> snapshot_metric(const Results& r, const std::string& key) {
  std::vector<double> v;
  for (const auto& run : r.snapshot_runs) {
    if (!run.ok) continue;
    auto it = run.metrics.find(key);
    if (it != run.metrics.end()) v.push_back(it->second);
  }
  return summarize(v);
}

void snapshot_table(const Results& r, std::ostringstream& out) {
  if (r.snapshot_runs.empty()) return;
  out << "\n### Snapshot at scale (libleakprobe exact, `bench_snapshot";
  for (const auto& a : r.snapshot_args) out << ' ' << a;
  out << "`)\n\n| measure | median | min–max | runs |\n|---|---:|---:|---:|\n";
  const std::pair<const char*, const char*> rows[] = {
      {"live", "live allocations"},
      {"stack_lines", "stack lines in the snapshot"},
      {"write_s", "snapshot write time (request to published file), s"},
      {"file_bytes", "snapshot file size, bytes"},
      {"max_malloc_block_us", "longest malloc/free of another thread during the write, µs"},
      {"baseline_max_malloc_us", "same loop, same duration, no snapshot (noise floor), µs"},
      {"probe_bytes", "probe's own memory (`probe-bytes`), bytes"},
      {"probe_bytes_per_live", "probe-bytes / live allocations (incl. stack table), B"},
      {"marginal_bytes_per_alloc", "probe bytes per added live allocation (stack table fixed), B"},
  };
  for (const auto& [key, title] : rows) {
    auto s = snapshot_metric(r, key);
    out << "| " << title << " | ";
    if (!s) {
      out << "not reported | | |\n";
      continue;
    }
    out << num(s->median) << " | " << num(s->min) << "–" << num(s->max) << " | " << s->n << " |\n";
  }
  for (const auto& run : r.snapshot_runs)
    if (!run.ok) out << "\nA snapshot run failed: " << run.error << "\n";
}

struct Goal {
  std::string what, target, measured, verdict;
};

std::string verdict_at_least(double v, double goal) {
  if (v >= goal) return "met";
  return "missed by " + diff(goal - v) + "× (" + num((goal - v) / goal * 100) + "% short)";
}

std::string verdict_at_most(double v, double goal) {
  if (v <= goal) return "met";
  return "missed by " + diff(v - goal) + "× (" + num((v / goal - 1) * 100) + "% over)";
}

std::vector<Goal> goals(const Results& r) {
  std::vector<Goal> g;
  auto ratio_goal = [&](const char* metric, const char* config, const std::string& what,
                        double target, bool at_least) {
    Goal x{what, std::string(at_least ? "≥ " : "≤ ") + num(target) + "×", "–", ""};
    auto q = ratio_to_none(r, metric, config);
    if (!q) {
      x.verdict = "not measured";
    } else {
      x.measured = ratio(*q);
      x.verdict = at_least ? verdict_at_least(*q, target) : verdict_at_most(*q, target);
    }
    g.push_back(x);
  };
  ratio_goal("qos0_msgs_per_s", "lp-exact", "broker QoS 0 throughput, exact", 0.90, true);
  ratio_goal("qos0_msgs_per_s", "lp-sampled", "broker QoS 0 throughput, sampled", 0.97, true);
  ratio_goal("qos1_msgs_per_s", "lp-exact", "broker QoS 1 throughput, exact", 0.90, true);
  ratio_goal("qos1_msgs_per_s", "lp-sampled", "broker QoS 1 throughput, sampled", 0.97, true);
  ratio_goal("ns_per_pair", "lp-exact", "alloc loop time, exact", 3.0, false);
  ratio_goal("ns_per_pair", "lp-sampled", "alloc loop time, sampled", 1.3, false);

  // Beat heaptrack and gperftools on every metric row, in this run.
  for (const char* mode : {"lp-exact", "lp-sampled"}) {
    std::vector<std::string> lost;
    int compared = 0;
    for (const Metric& m : kMetrics) {
      auto ours = metric_summary(r, m.key, mode);
      if (!ours) continue;
      for (const char* rival : {"heaptrack", "gperftools"}) {
        auto theirs = metric_summary(r, m.key, rival);
        if (!theirs) continue;
        ++compared;
        const bool better =
            m.higher_is_better ? ours->median > theirs->median : ours->median < theirs->median;
        if (!better) lost.push_back(std::string(m.title) + " vs " + rival);
      }
    }
    Goal x{std::string("beat heaptrack and gperftools on every row, ") + mode, "all rows",
           std::to_string(compared - static_cast<int>(lost.size())) + "/" +
               std::to_string(compared) + " won",
           ""};
    if (compared == 0) {
      x.verdict = "not measured";
    } else if (lost.empty()) {
      x.verdict = "met";
    } else {
      x.verdict = "missed on:";
      for (const auto& l : lost) x.verdict += " " + l + ";";
    }
    g.push_back(x);
  }

  {
    Goal x{"probe memory per live allocation (exact)", "≤ 64 B + stack table", "–", ""};
    auto s = snapshot_metric(r, "marginal_bytes_per_alloc");
    auto live = snapshot_metric(r, "live");
    if (!s) {
      x.verdict = "not measured (no probe-bytes in the snapshots)";
    } else if (!live || live->median < 1e6) {
      x.verdict = "not measured at scale (fewer than 1M live allocations)";
    } else {
      x.measured = num(s->median) + " B";
      x.verdict = s->median <= 64 ? "met" : "missed by " + num(s->median - 64) + " B/allocation";
    }
    g.push_back(x);
  }
  {
    Goal x{"snapshot size independent of uptime (exact)", "same size ±5%", "–", ""};
    const UptimeRun *shortest = nullptr, *longest = nullptr;
    for (const auto& u : r.uptime) {
      if (u.config != "lp-exact" || !u.ok || u.last_snapshot_bytes <= 0) continue;
      if (!shortest || u.seconds < shortest->seconds) shortest = &u;
      if (!longest || u.seconds > longest->seconds) longest = &u;
    }
    if (!shortest || shortest == longest) {
      x.verdict = "not measured";
    } else {
      const double q = static_cast<double>(longest->last_snapshot_bytes) /
                       static_cast<double>(shortest->last_snapshot_bytes);
      x.measured = std::to_string(shortest->last_snapshot_bytes) + " B after " +
                   num(shortest->seconds) + " s vs " +
                   std::to_string(longest->last_snapshot_bytes) + " B after " +
                   num(longest->seconds) + " s (" + ratio(q) + ")";
      x.verdict = std::fabs(q - 1) <= 0.05 ? "met" : "missed: grows " + num((q - 1) * 100) + "%";
    }
    g.push_back(x);
  }
  {
    Goal x{"snapshot of 1M live allocations over 100k stacks", "< 1 s", "–", ""};
    auto s = snapshot_metric(r, "write_s");
    auto live = snapshot_metric(r, "live");
    if (!s) {
      x.verdict = "not measured";
    } else {
      x.measured = num(s->median) + " s";
      if (!live || live->median < 1e6) {
        x.measured += " (only " + num(live ? live->median : 0) + " live)";
        x.verdict = "not measured at scale";
      } else {
        x.verdict = s->median < 1 ? "met" : "missed by " + num(s->median - 1) + " s";
      }
    }
    g.push_back(x);
  }
  return g;
}

}  // namespace

std::string render_markdown(const Results& r) {
  std::ostringstream out;
  out << "## Side-by-side run (" << r.mode << ")\n\n"
      << "Generated by `scripts/bench.sh" << (r.mode == "quick" ? " --quick" : "") << "` from "
      << r.started_utc << " to " << r.finished_utc << " (" << num(r.wall_s) << " s). " << r.reps
      << " repetitions; in each, every configuration runs once, in an order rotated "
      << "per repetition (interleaved, so background load hits all of them alike). "
      << "Load average before: `" << r.load_before << "`, after: `" << r.load_after
      << "` (2 cores, shared with other work: the min–max columns show the noise).\n\n"
      << "- alloc: `bench_alloc --pairs " << r.alloc.pairs
      << "` (2 threads, pairs per thread, ring of 4096 live blocks per thread, 20 call sites at "
         "depths 10–40).\n"
      << "- broker: Debian mosquitto on a loopback port under each configuration, "
      << "`bench_broker_load` (never profiled) with " << r.broker.publishers << " publishers, "
      << r.broker.subscribers << " wildcard subscribers, " << r.broker.qos0_messages
      << " QoS 0 then " << r.broker.qos1_messages
      << " QoS 1 messages of 64–256 bytes; msg/s counts deliveries at the subscribers; "
         "CPU is mosquitto's utime+stime from /proc over each phase (heaptrack's separate "
         "interpreter process is not included, but it competes for the same 2 cores).\n"
      << "- gperftools runs 1/20 of the alloc pairs and 1/4 of the messages: both metrics are "
         "rates, and at its speed the full counts would take most of the run.\n\n"
      << "| configuration | what |\n|---|---|\n";
  for (const Config& c : r.configs) out << "| " << c.name << " | " << c.description << " |\n";

  out << "\n### Goals (issue 5), ratios to the unprofiled run of this same run\n\n"
      << "| goal | target | measured | verdict |\n|---|---|---|---|\n";
  for (const Goal& g : goals(r))
    out << "| " << g.what << " | " << g.target << " | " << g.measured << " | " << g.verdict
        << " |\n";

  auto ctx = [&](const char* metric) -> std::string {
    auto gp = metric_summary(r, metric, "gperftools");
    auto tc = metric_summary(r, metric, "tcmalloc");
    if (!gp || !tc || tc->median == 0) return "–";
    return ratio(gp->median / tc->median);
  };
  out << "\ngperftools relative to tcmalloc without profiling (its own allocator): alloc "
      << ctx("ns_per_pair") << ", QoS 0 throughput " << ctx("qos0_msgs_per_s")
      << ", QoS 1 throughput " << ctx("qos1_msgs_per_s") << ".\n";

  out << "\n### Measurements\n";
  metric_tables(r, out);
  files_table(r, out);
  uptime_table(r, out);
  snapshot_table(r, out);
  for (const auto& n : r.notes) out << "\nNote: " << n << ".\n";
  if (!r.failures.empty()) {
    out << "\n### Failed runs (left out of the medians)\n\n";
    for (const auto& f : r.failures) out << "- " << f << "\n";
  }
  return out.str();
}

}  // namespace bench
