#include "report.h"

#include <algorithm>
#include <array>
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

bool parse_profile_shares(const std::string& text,
                          std::map<std::string, std::map<std::string, double>>* shares,
                          std::string* error) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string workload, config, pct, extra;
    fields >> workload >> config >> pct;
    char* end = nullptr;
    const double v = pct.empty() ? -1 : std::strtod(pct.c_str(), &end);
    if (workload.empty() || config.empty() || pct.empty() || *end != '\0' || v < 0 || v > 100 ||
        (fields >> extra)) {
      *error = "line " + std::to_string(n) + ": \"" + line +
               "\" is not \"<workload> <configuration> <percent in 0..100>\"";
      return false;
    }
    (*shares)[workload][config] = v;
  }
  return true;
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

const Metric kAllocMetric = {"ns_per_pair", "alloc", "alloc loop: time per malloc/free pair",
                             "ns",          false,   1};
const Metric kAllocCpuMetric = {"cpu_ns_per_pair",
                                "alloc",
                                "alloc loop: CPU time (user+system) per malloc/free pair",
                                "ns",
                                false,
                                1};
const Metric kSmallCpuMetric = {
    "small_cpu_ns_per_pair",
    "alloc-small",
    "tight small-block loop (`--sizes small`: 16-256 B, 64 live blocks a thread): CPU time per "
    "malloc/free pair",
    "ns",
    false,
    1};

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

// The probe's share of `workload`'s samples under `config`, as " · probe 12.3%" (empty when
// not measured).
std::string share_note(const Results& r, const std::string& workload, const std::string& config) {
  auto w = r.probe_share.find(workload);
  if (w == r.probe_share.end()) return "";
  auto c = w->second.find(config);
  if (c == w->second.end()) return "";
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << " · probe " << c->second << "%";
  return o.str();
}

// The broker workload a report row (twopub-qos0, fanout, ...) belongs to.
std::string workload_of_row(const Results& r, const std::string& row) {
  for (const auto& w : r.broker_workloads)
    if (row.rfind(w.name, 0) == 0) return w.name;
  return row;
}

// Ratio of the config's median to the unprofiled median.
std::optional<double> ratio_to_none(const Results& r, const std::string& metric,
                                    const std::string& config) {
  auto base = metric_summary(r, metric, "none");
  auto s = metric_summary(r, metric, config);
  if (!base || !s || base->median == 0) return std::nullopt;
  return s->median / base->median;
}

void metric_table(const Results& r, const Metric& m, std::ostringstream& out) {
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
        << num(s->max * m.display_scale) << " | " << (q ? ratio(*q) : "–")
        << share_note(r, m.workload, c.name) << " | " << s->n << " |\n";
  }
}

std::vector<const Config*> broker_configs(const Results& r) {
  std::vector<const Config*> out;
  for (const Config& c : r.configs)
    if (c.broker) out.push_back(&c);
  return out;
}

// Rows = configurations, columns = broker workload rows, cells "ratio (median unit)".
void broker_matrix(const Results& r, const std::string& field, const std::string& title,
                   const std::string& unit, double scale, const std::vector<std::string>& columns,
                   std::ostringstream& out) {
  out << "\n**" << title << "**\n\n| configuration |";
  for (const auto& col : columns) out << " " << col << " |";
  out << "\n|---|";
  for (size_t i = 0; i < columns.size(); ++i) out << "---:|";
  out << "\n";
  for (const Config* c : broker_configs(r)) {
    out << "| " << c->name << " |";
    for (const auto& col : columns) {
      const std::string key = col + ":" + field;
      auto s = c->available ? metric_summary(r, key, c->name) : std::nullopt;
      if (!s) {
        out << " – |";
        continue;
      }
      auto q = ratio_to_none(r, key, c->name);
      // The probe's share of the CPU samples belongs beside CPU and throughput, not memory.
      const std::string share =
          field == "vmhwm_kb" ? "" : share_note(r, workload_of_row(r, col), c->name);
      out << " " << (q ? ratio(*q) : "–") << share << " (" << num(s->median * scale) << unit
          << ") |";
    }
    out << "\n";
  }
}

void broker_tables(const Results& r, std::ostringstream& out) {
  if (r.broker_rows.empty()) return;
  out << "\n### Broker workloads: ratio to none (median)\n";
  broker_matrix(r, "cpu_us_per_msg",
                "Broker CPU per delivered message (headline; lower is better; the broker's "
                "process group, profiler helpers included)",
                " µs", 1, r.broker_rows, out);
  broker_matrix(r, "msgs_per_s", "Broker throughput, deliveries/s (higher is better)", "/s", 1,
                r.broker_rows, out);
  std::vector<std::string> workloads;
  for (const auto& w : r.broker_workloads) workloads.push_back(w.name);
  broker_matrix(r, "vmhwm_kb", "Broker peak RSS, VmHWM of mosquitto (lower is better)", " MiB",
                1.0 / 1024, workloads, out);

  out << "\n**What sets the rate** (unprofiled broker, medians, as shares of one core over the "
         "phase): the broker's CPU, the broker's run-queue wait (runnable, but another task had "
         "the core), and the load generator's CPU. Broker CPU + wait near 1.0 means the broker "
         "was the bottleneck (starved of a core if the wait is large); both small means it "
         "waited for work, i.e. for the load generator and the hand-offs between processes.\n\n"
      << "| workload | deliveries/s | broker CPU | broker run-queue wait | load generator CPU |\n"
      << "|---|---:|---:|---:|---:|\n";
  for (const auto& row : r.broker_rows) {
    auto rate = metric_summary(r, row + ":msgs_per_s", "none");
    auto b = metric_summary(r, row + ":broker_core", "none");
    auto w = metric_summary(r, row + ":broker_wait_core", "none");
    auto l = metric_summary(r, row + ":load_core", "none");
    out << "| " << row << " | " << (rate ? num(rate->median) : "–") << " | "
        << (b ? num(b->median) : "–") << " | " << (w ? num(w->median) : "–") << " | "
        << (l ? num(l->median) : "–") << " |\n";
  }

  out << "\n### Broker workloads in detail (median, min–max over the repetitions)\n";
  for (const auto& row : r.broker_rows) {
    out << "\n**" << row << "**\n\n"
        << "| configuration | CPU µs/delivery | min–max | ratio | deliveries/s | min–max | "
           "ratio | runs |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const Config* c : broker_configs(r)) {
      out << "| " << c->name << " | ";
      if (!c->available) {
        out << "not run: " << c->unavailable_reason << " | | | | | | |\n";
        continue;
      }
      auto cpu = metric_summary(r, row + ":cpu_us_per_msg", c->name);
      auto rate = metric_summary(r, row + ":msgs_per_s", c->name);
      if (!cpu || !rate) {
        out << "no successful run | | | | | | |\n";
        continue;
      }
      auto qc = ratio_to_none(r, row + ":cpu_us_per_msg", c->name);
      auto qr = ratio_to_none(r, row + ":msgs_per_s", c->name);
      out << num(cpu->median) << " | " << num(cpu->min) << "–" << num(cpu->max) << " | "
          << (qc ? ratio(*qc) : "–") << " | " << num(rate->median) << " | " << num(rate->min) << "–"
          << num(rate->max) << " | " << (qr ? ratio(*qr) : "–") << " | " << rate->n << " |\n";
    }
  }
}

// The attached configurations beside the preloaded ones (issue 19: "measure both ways"), and
// what attaching took.
void attach_tables(const Results& r, std::ostringstream& out) {
  std::vector<const Config*> attached;
  for (const Config* c : broker_configs(r))
    if (c->attach != Attach::kNone) attached.push_back(c);
  if (attached.empty()) return;
  out << "\n### Attached (`leakprobe attach`: GOT slots rewritten) beside preloaded "
         "(LD_PRELOAD: symbol interposition)\n\n"
      << "CPU per delivered message (broker) or per malloc/free pair (alloc loops), ratio to "
         "none (median), each preloaded configuration next to its attached twin. The broker was "
         "started plain and attached once it accepted connections, before the load; bench_alloc "
         "was attached with its threads created and idle (`--start-fifo`: main waiting in "
         "`read`, the workers in a condition variable, a safe point), before its CPU clock and "
         "loop started. lp-detached was attached and detached again (every call put back, the "
         "probe mapped but dormant). A process that is never attached is the none row itself: "
         "nothing in it was rewritten, it runs no probe code (costs exactly nothing). Each "
         "attached run is checked by a snapshot: the broker's after the load (`leakprobe "
         "snapshot`), bench_alloc's at exit: attached and recording in its mode, exact with "
         "stacks through the program's own code; detached: recording off since before the "
         "load. A run that fails either check, or whose attach fails, is a failed run, never "
         "measured as a plain process.\n\n| workload |";
  const char* pairs[][2] = {{"lp-exact", "lp-attached-exact"},
                            {"lp-sampled", "lp-attached-sampled"},
                            {"lp-dormant", "lp-detached"}};
  std::vector<std::string> cols;
  for (const auto& p : pairs)
    for (const char* name : p)
      for (const Config& c : r.configs)
        if (c.name == name) cols.push_back(name);
  for (const auto& c : cols) out << " " << c << " |";
  out << "\n|---|";
  for (size_t i = 0; i < cols.size(); ++i) out << "---:|";
  out << "\n";
  // (report row, metric, workload for the profile share)
  std::vector<std::array<std::string, 3>> rows;
  for (const auto& row : r.broker_rows)
    rows.push_back({row, row + ":cpu_us_per_msg", workload_of_row(r, row)});
  rows.push_back({"alloc loop", "cpu_ns_per_pair", "alloc"});
  rows.push_back({"tight small-block loop", "small_cpu_ns_per_pair", "alloc-small"});
  for (const auto& [row, metric, workload] : rows) {
    if (!r.series.count(metric)) continue;
    out << "| " << row << " |";
    for (const auto& c : cols) {
      auto q = ratio_to_none(r, metric, c);
      out << " " << (q ? ratio(*q) + share_note(r, workload, c) : "–") << " |";
    }
    out << "\n";
  }
  out << "\n**What attaching took** (wall time of the `leakprobe attach` and `leakprobe detach` "
         "commands as the runner saw them, ±5 ms of polling, leakprobe's own start included; "
         "the process's threads are held only for part of it), and the calls the probe "
         "rewrote (its `leakprobe: attached: N calls` line):\n\n"
      << "| configuration | workload | attach ms, median | min–max | detach ms, median | calls "
         "rewritten | runs |\n|---|---|---:|---:|---:|---:|---:|\n";
  std::vector<std::string> workloads = {"alloc", "alloc-small"};
  for (const auto& w : r.broker_workloads) workloads.push_back(w.name);
  for (const Config* c : attached) {
    for (const auto& w : workloads) {
      auto a = metric_summary(r, w + ":attach_s", c->name);
      if (!a) continue;
      auto d = metric_summary(r, w + ":detach_s", c->name);
      auto n = metric_summary(r, w + ":calls_rewritten", c->name);
      out << "| " << c->name << " | " << w << " | " << num(a->median * 1000) << " | "
          << num(a->min * 1000) << "–" << num(a->max * 1000) << " | "
          << (d ? num(d->median * 1000) : "–") << " | " << (n ? num(n->median) : "–") << " | "
          << a->n << " |\n";
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
      {"age_census_us", "age census (live blocks by age), CPU µs of the writer"},
      {"age_max_shard_hold_us", "longest the age census held one pointer-map shard, CPU µs"},
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

// One cell of the issue-8 goals table: the ratio of `config` to none, and its verdict.
// With `rival`, the ratio must also be below the rival's.
std::string goal_cell(const Results& r, const std::string& metric, const std::string& config,
                      double target, bool at_least, const char* rival = nullptr) {
  auto q = ratio_to_none(r, metric, config);
  if (!q) return "not measured";
  std::string cell = ratio(*q) + ": ";
  std::string verdict = at_least ? verdict_at_least(*q, target) : verdict_at_most(*q, target);
  if (rival != nullptr) {
    auto theirs = ratio_to_none(r, metric, rival);
    if (!theirs) {
      verdict += "; " + std::string(rival) + " not measured";
    } else if (*q >= *theirs) {
      verdict = (verdict == "met" ? "" : verdict + "; ") + "not below " + rival + " (" +
                ratio(*theirs) + ")";
    } else {
      verdict += " (" + std::string(rival) + " " + ratio(*theirs) + ")";
    }
  }
  return cell + verdict;
}

struct GoalRow {
  std::string what;
  std::string cells[3];  // exact, sampled, dormant
};

// "12.3% (fanout), 10.1% (twopub): met" for the probe's share of the samples of
// `workloads` under `config`, against at most `target` percent.
std::string share_cell(const Results& r, const std::vector<std::string>& workloads,
                       const std::string& config, double target) {
  std::string cell;
  double worst = -1;
  for (const auto& w : workloads) {
    auto it = r.probe_share.find(w);
    if (it == r.probe_share.end() || !it->second.count(config)) continue;
    const double v = it->second.at(config);
    cell += (cell.empty() ? "" : ", ") + num(v) + "% (" + w + ")";
    worst = std::max(worst, v);
  }
  if (worst < 0) return "not measured";
  return cell + ": " +
         (worst <= target ? std::string("met") : "missed by " + num(worst - target) + " points");
}

// The cost goals (issue 19's table): ratios of medians to none in this run, every broker
// workload, and the probe's share of the samples by profile.
std::vector<GoalRow> cost_goals(const Results& r) {
  std::vector<GoalRow> g;
  for (const auto& row : r.broker_rows) {
    const std::string key = row + ":cpu_us_per_msg";
    g.push_back({"broker CPU per delivered message, " + row,
                 {goal_cell(r, key, "lp-exact", 1.25, false, "heaptrack"),
                  goal_cell(r, key, "lp-sampled", 1.05, false),
                  goal_cell(r, key, "lp-dormant", 1.05, false)}});
  }
  for (const auto& row : r.broker_rows) {
    const std::string key = row + ":msgs_per_s";
    g.push_back(
        {"broker throughput, " + row,
         {goal_cell(r, key, "lp-exact", 0.85, true), goal_cell(r, key, "lp-sampled", 0.97, true),
          goal_cell(r, key, "lp-dormant", 0.97, true)}});
  }
  g.push_back({"tight small-block alloc loop, CPU time",
               {goal_cell(r, "small_cpu_ns_per_pair", "lp-exact", 2.5, false),
                goal_cell(r, "small_cpu_ns_per_pair", "lp-sampled", 1.10, false),
                goal_cell(r, "small_cpu_ns_per_pair", "lp-dormant", 1.05, false)}});
  // CPU time where the run measured it (wall time on a shared machine measures neighbours).
  const std::string alloc = r.series.count("cpu_ns_per_pair") ? "cpu_ns_per_pair" : "ns_per_pair";
  g.push_back(
      {"alloc loop",
       {goal_cell(r, alloc, "lp-exact", 2.5, false), goal_cell(r, alloc, "lp-sampled", 1.05, false),
        goal_cell(r, alloc, "lp-dormant", 1.03, false)}});
  g.push_back({"probe's share of the tight loop's samples (perf record)",
               {share_cell(r, {"alloc-small"}, "lp-exact", 55),
                share_cell(r, {"alloc-small"}, "lp-sampled", 3),
                share_cell(r, {"alloc-small"}, "lp-dormant", 1.5)}});
  g.push_back({"probe's share of the broker's samples, fanout and twopub",
               {share_cell(r, {"fanout", "twopub"}, "lp-exact", 12),
                share_cell(r, {"fanout", "twopub"}, "lp-sampled", 2),
                share_cell(r, {"fanout", "twopub"}, "lp-dormant", 1)}});
  GoalRow mem{"probe memory per live allocation", {"", "", ""}};
  auto s = snapshot_metric(r, "marginal_bytes_per_alloc");
  auto live = snapshot_metric(r, "live");
  if (!s) {
    mem.cells[0] = "not measured (no probe-bytes in the snapshots)";
  } else if (!live || live->median < 1e6) {
    mem.cells[0] = "not measured at scale (fewer than 1M live allocations)";
  } else {
    mem.cells[0] = num(s->median) +
                   " B: " + (s->median <= 48 ? "met" : "missed by " + num(s->median - 48) + " B");
  }
  g.push_back(mem);
  return g;
}

// The other checks: beating the rivals, snapshot size and snapshot time.
std::vector<Goal> other_checks(const Results& r) {
  std::vector<Goal> g;
  // Beat heaptrack and gperftools on every measured row, in this run.
  std::vector<std::pair<std::string, bool>> rows = {{"ns_per_pair", false}};
  for (const auto& row : r.broker_rows) {
    rows.push_back({row + ":cpu_us_per_msg", false});
    rows.push_back({row + ":msgs_per_s", true});
  }
  for (const auto& w : r.broker_workloads) rows.push_back({w.name + ":vmhwm_kb", false});
  for (const char* mode : {"lp-exact", "lp-sampled"}) {
    std::vector<std::string> lost;
    int compared = 0;
    for (const auto& [key, higher_is_better] : rows) {
      auto ours = metric_summary(r, key, mode);
      if (!ours) continue;
      for (const char* rival : {"heaptrack", "gperftools"}) {
        auto theirs = metric_summary(r, key, rival);
        if (!theirs) continue;
        ++compared;
        const bool better =
            higher_is_better ? ours->median > theirs->median : ours->median < theirs->median;
        if (!better) lost.push_back(key + " vs " + rival);
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
  {
    // Issue 19: a process whose calls are not rewritten costs nothing. Detached, every call is
    // put back; the probe's threads stay, so its share of the samples says whether anything
    // of it still runs.
    Goal x{"detached probe (calls put back, library mapped): its share of the samples",
           "0.0% in every workload", "–", "not measured"};
    double worst = -1;
    std::string where;
    for (const auto& [workload, by_config] : r.probe_share) {
      auto it = by_config.find("lp-detached");
      if (it == by_config.end()) continue;
      if (it->second > worst) {
        worst = it->second;
        where = workload;
      }
    }
    if (worst >= 0) {
      x.measured = "at most " + num(worst) + "% (" + where + ")";
      x.verdict = worst < 0.05 ? "met" : "missed by " + num(worst) + " points";
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
      << " repetitions; in each, every configuration runs every workload once, configurations "
      << "in an order rotated per repetition (interleaved, so background load hits all of them "
         "alike). Load average before: `"
      << r.load_before << "`, after: `" << r.load_after
      << "` (load average, and the machine's steal time so far from /proc/stat; 2 cores, shared "
         "with "
         "other work: the min–max columns show the noise).\n\n"
      << "- alloc: `bench_alloc --pairs " << r.alloc.pairs
      << "` (2 threads, pairs per thread, ring of 4096 live blocks per thread, 20 call sites at "
         "depths 10–40), and the same with `--sizes small` (16–256 B blocks, 64 live a thread: "
         "the tight loop where a profiler's per-call cost shows; measured in CPU time, which a "
         "shared machine disturbs less than wall time).\n"
      << "- broker: Debian's mosquitto on a loopback port under each configuration, driven by "
         "`bench_broker_load` (never profiled). Deliveries are counted at the subscribers; CPU "
         "is utime+stime from /proc of the broker's whole process group (heaptrack's shell, "
         "interpreter and zstd included) over each phase, divided by the deliveries.\n";
  for (const auto& w : r.broker_workloads) {
    out << "  - **" << w.name << "** (";
    for (size_t i = 0; i < w.counts.size(); ++i)
      out << (i ? ", " : "") << "`" << w.counts[i].first << " " << w.counts[i].second << "`";
    out << "): " << w.description << ".\n";
  }
  out << "- gperftools runs 1/20 of the alloc pairs and 1/4 of the broker counts: the metrics "
         "are rates, and at its speed the full counts would take most of the run.\n\n"
      << "| configuration | what |\n|---|---|\n";
  for (const Config& c : r.configs) out << "| " << c.name << " | " << c.description << " |\n";

  out << "\n### Cost goals, ratios of medians to the unprofiled run of this same run\n\n"
      << "Targets (exact / sampled / dormant): broker CPU per delivered message ≤ 1.25× and "
         "below heaptrack / ≤ 1.05× / ≤ 1.05×; throughput ≥ 0.85× / 0.97× / 0.97×; tight "
         "small-block loop ≤ 2.5× / 1.10× / 1.05×; alloc loop ≤ 2.5× / 1.05× / 1.03× (CPU "
         "time); the probe's share of the tight loop's samples ≤ 55% / 3% / 1.5% and of the "
         "broker's (fanout, twopub) ≤ 12% / 2% / 1%; probe memory ≤ 48 B per live allocation "
         "(exact). A share beside a ratio (\"· probe 12%\") is the profile of that workload "
         "under that configuration.\n\n"
      << "| goal | exact | sampled (512 KiB) | dormant |\n|---|---|---|---|\n";
  for (const GoalRow& g : cost_goals(r))
    out << "| " << g.what << " | " << g.cells[0] << " | " << g.cells[1] << " | " << g.cells[2]
        << " |\n";

  out << "\n### Other checks\n\n| check | target | measured | verdict |\n"
      << "|---|---|---|---|\n";
  for (const Goal& g : other_checks(r))
    out << "| " << g.what << " | " << g.target << " | " << g.measured << " | " << g.verdict
        << " |\n";
  {
    auto gp = metric_summary(r, "ns_per_pair", "gperftools");
    auto tc = metric_summary(r, "ns_per_pair", "tcmalloc");
    if (gp && tc && tc->median > 0)
      out << "\ngperftools relative to tcmalloc without profiling (its own allocator), alloc "
             "loop: "
          << ratio(gp->median / tc->median) << ".\n";
  }

  out << "\n### Measurements\n";
  if (!r.probe_share.empty()) {
    // Profiles are steadier than time ratios on a shared machine: what fraction of the
    // workload's CPU samples fell into the probe's own code.
    out << "\n**The probe's share of the samples** (`perf record -e cpu-clock`, self time in "
           "libleakprobe.so; the broker's samples for broker workloads; scripts/bench.sh, "
           "before the timed runs)\n\n| workload |";
    std::vector<std::string> cfgs;
    for (const Config& c : r.configs)
      if (c.name.rfind("lp-", 0) == 0) cfgs.push_back(c.name);
    for (const auto& c : cfgs) out << " " << c << " |";
    out << "\n|---|";
    for (size_t i = 0; i < cfgs.size(); ++i) out << "---:|";
    out << "\n";
    for (const auto& [w, by_config] : r.probe_share) {
      out << "| " << w << " |";
      for (const auto& c : cfgs) {
        auto it = by_config.find(c);
        out << " " << (it == by_config.end() ? "–" : num(it->second) + "%") << " |";
      }
      out << "\n";
    }
  }
  broker_tables(r, out);
  attach_tables(r, out);
  if (r.series.count("ns_per_pair")) {
    out << "\n### alloc loop\n";
    metric_table(r, kAllocMetric, out);
    if (r.series.count("cpu_ns_per_pair")) metric_table(r, kAllocCpuMetric, out);
    if (r.series.count("small_cpu_ns_per_pair")) metric_table(r, kSmallCpuMetric, out);
  }
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
