// bench_runner: runs every workload under every profiler configuration, interleaved over
// several repetitions, plus the snapshot-size and snapshot-at-scale measurements, and writes
// the markdown report. scripts/bench.sh builds the project and calls it.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "attach_step.h"
#include "configs.h"
#include "process.h"
#include "report.h"
#include "results.h"
#include "workloads.h"

namespace fs = std::filesystem;
using namespace bench;

namespace {

struct Options {
  std::string build_dir;
  std::string work_dir;
  std::string markdown_out;
  std::string profile_shares;  // scripts/bench.sh's perf measurements (results.h)
  std::string leakprobe_cli;   // default: <build>/tools/leakprobe/leakprobe
  bool quick = false;
  bool smoke = false;   // tiny sizes: proves every piece works, measures nothing
  bool strict = false;  // exit 1 if any run failed
  int reps = 0;         // 0: 1 when smoke, 3 when quick, 5 otherwise
  std::set<std::string> only_configs;
  std::set<std::string> only_workloads;  // broker workloads; empty: all
  bool skip_alloc = false, skip_broker = false, skip_extras = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_runner: %s\n"
               "usage: bench_runner --build-dir DIR [--work-dir DIR] [--quick | --smoke]\n"
               "       [--reps N] [--markdown FILE] [--profile-shares FILE]\n"
               "       [--configs a,b,...] [--skip-alloc]\n"
               "       [--workloads twopub,fanout,churn,retained]\n"
               "       [--skip-broker] [--skip-extras] [--strict] [--leakprobe-cli PATH]\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value for " + a);
      return argv[++i];
    };
    if (a == "--build-dir") {
      o.build_dir = value();
    } else if (a == "--work-dir") {
      o.work_dir = value();
    } else if (a == "--markdown") {
      o.markdown_out = value();
    } else if (a == "--profile-shares") {
      o.profile_shares = value();
    } else if (a == "--leakprobe-cli") {
      o.leakprobe_cli = value();
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--smoke") {
      o.smoke = true;
    } else if (a == "--strict") {
      o.strict = true;
    } else if (a == "--reps") {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 1 || n > 50)
        usage("--reps must be an integer in [1, 50]");
      o.reps = static_cast<int>(n);
    } else if (a == "--configs") {
      std::stringstream s(value());
      std::string name;
      const std::vector<std::string> known = config_names();
      while (std::getline(s, name, ',')) {
        if (std::find(known.begin(), known.end(), name) == known.end()) {
          std::string list;
          for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
          usage("--configs: unknown configuration '" + name + "' (known: " + list + ")");
        }
        o.only_configs.insert(name);
      }
    } else if (a == "--workloads") {
      std::stringstream s(value());
      std::string name;
      while (std::getline(s, name, ',')) o.only_workloads.insert(name);
    } else if (a == "--skip-alloc") {
      o.skip_alloc = true;
    } else if (a == "--skip-broker") {
      o.skip_broker = true;
    } else if (a == "--skip-extras") {
      o.skip_extras = true;
    } else {
      usage("unknown option " + a);
    }
  }
  if (o.build_dir.empty()) usage("--build-dir is required");
  // Absolute, because every program runs with its own output directory as working directory.
  o.build_dir = fs::absolute(o.build_dir).lexically_normal().string();
  if (o.work_dir.empty()) o.work_dir = o.build_dir + "/bench-out";
  o.work_dir = fs::absolute(o.work_dir).lexically_normal().string();
  if (o.quick && o.smoke) usage("--quick and --smoke exclude each other");
  if (o.reps == 0) o.reps = o.smoke ? 1 : o.quick ? 3 : 5;
  return o;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

// The load average's first three fields and the machine's steal time so far (/proc/stat,
// clock ticks): CPU a hypervisor gave to other guests shows there, not in the load.
std::string loadavg() {
  std::string s = read_file("/proc/loadavg");
  const auto cut = s.find(' ', s.find(' ', s.find(' ') + 1) + 1);  // first three fields
  std::string out = s.substr(0, cut);
  const std::string stat = read_file("/proc/stat");
  if (stat.rfind("cpu ", 0) == 0) {
    std::istringstream in(stat.substr(0, stat.find('\n')));
    std::string label;
    unsigned long long v[8] = {};
    in >> label;
    for (auto& x : v) in >> x;  // user nice system idle iowait irq softirq steal
    if (in) out += ", steal " + std::to_string(v[7]) + " ticks";
  }
  return out;
}

void record_files(Results& results, const std::string& workload, const std::string& config,
                  const RunResult& run) {
  FilesSeen& f = results.files[workload][config];
  ++f.runs;
  long long total = 0;
  f.example_names.clear();
  for (const auto& file : run.files) {
    total += file.bytes;
    f.example_names.push_back(file.name + " (" + std::to_string(file.bytes) + " B)");
  }
  f.total_bytes.push_back(total);
  f.file_count.push_back(run.files.size());
}

// What attaching an alloc loop took ("alloc:attach_s", ...), as run_broker reports it per
// broker workload. Only successful runs count.
void record_attach(Results& results, const std::string& workload, const std::string& config,
                   const RunResult& run) {
  if (!run.ok) return;
  for (const char* key : {"attach_s", "detach_s", "calls_rewritten"})
    if (auto it = run.metrics.find(key); it != run.metrics.end())
      results.series[workload + ":" + key][config].push_back(it->second);
}

// The snapshot the probe wrote last on its interval timer: highest sequence whose trigger
// line says "interval" (an exit snapshot has freed the ring, so it is not comparable).
long long last_periodic_snapshot_bytes(const std::vector<FileSize>& files,
                                       const std::string& prof_dir) {
  long long best_seq = -1, best_bytes = 0;
  for (const auto& f : files) {
    const std::string& n = f.name;
    if (n.rfind("leakprobe.", 0) != 0 || n.size() < 5 || n.substr(n.size() - 5) != ".heap")
      continue;
    const auto last_dot = n.rfind('.', n.size() - 6);
    const long long seq = std::atoll(n.substr(last_dot + 1, n.size() - 5 - last_dot - 1).c_str());
    const std::string text = read_file(prof_dir + "/" + n);
    if (text.find("# leakprobe.trigger: interval") == std::string::npos) continue;
    if (seq > best_seq) {
      best_seq = seq;
      best_bytes = f.bytes;
    }
  }
  return best_bytes;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  install_cleanup_on_signals();
  const auto t0 = std::chrono::steady_clock::now();
  auto since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  Paths paths;
  paths.leakprobe_lib = o.build_dir + "/libleakprobe/libleakprobe.so";
  paths.leakprobe_cli =
      o.leakprobe_cli.empty() ? o.build_dir + "/tools/leakprobe/leakprobe" : o.leakprobe_cli;
  Programs programs;
  programs.alloc = o.build_dir + "/bench/alloc/bench_alloc";
  programs.broker_load = o.build_dir + "/bench/broker/bench_broker_load";
  programs.snapshot = o.build_dir + "/bench/snapshot/bench_snapshot";
  for (const auto& p : {programs.alloc, programs.broker_load, programs.snapshot}) {
    if (::access(p.c_str(), X_OK) != 0) usage(p + " is not built");
  }

  Results results;
  results.mode = o.smoke ? "smoke" : o.quick ? "quick" : "full";
  results.reps = o.reps;
  if (!o.profile_shares.empty()) {
    std::ifstream in(o.profile_shares);
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    if (!in || !parse_profile_shares(text.str(), &results.probe_share, &error)) {
      std::fprintf(stderr, "bench_runner: %s: %s\n", o.profile_shares.c_str(),
                   in ? error.c_str() : "cannot read it");
      return 2;
    }
  }
  results.started_utc = utc_now();
  results.load_before = loadavg();
  results.alloc.pairs = o.smoke ? 20'000 : o.quick ? 100'000 : 1'000'000;
  for (auto& w : broker_workloads(results.mode)) {
    if (o.only_workloads.empty() || o.only_workloads.count(w.name) != 0)
      results.broker_workloads.push_back(std::move(w));
  }
  if (results.broker_workloads.empty() && !o.only_workloads.empty())
    usage("--workloads names none of twopub, fanout, churn, retained");
  for (const auto& w : results.broker_workloads) {
    if (w.name == "twopub") {
      results.broker_rows.push_back(broker_row(w.name, "qos0"));
      results.broker_rows.push_back(broker_row(w.name, "qos1"));
    } else {
      results.broker_rows.push_back(broker_row(w.name, "all"));
    }
  }
  std::error_code ec;
  fs::remove_all(o.work_dir, ec);
  fs::create_directories(o.work_dir);
  for (const auto& c : all_configs(paths)) {
    if (o.only_configs.empty() || o.only_configs.count(c.name) != 0 || c.name == "none")
      results.configs.push_back(c);
  }
  // Whether attach works here is asked once, of leakprobe itself (`attach --check`), so a
  // machine without ptrace reports the attached rows as not run, with the reason, instead of
  // failing every run.
  if (!o.skip_broker &&
      std::any_of(results.configs.begin(), results.configs.end(),
                  [](const Config& c) { return c.available && c.attach != Attach::kNone; })) {
    if (const std::string why = attach_unavailable(paths, o.work_dir); !why.empty()) {
      std::fprintf(stderr, "bench_runner: the attached configurations are not run: %s\n",
                   why.c_str());
      for (Config& c : results.configs)
        if (c.attach != Attach::kNone) {
          c.available = false;
          c.unavailable_reason = why;
        }
    }
  }

  auto fail = [&](const std::string& what, const RunResult& run) {
    results.failures.push_back(what + ": " + run.error);
    std::fprintf(stderr, "  FAILED %s: %s\n", what.c_str(), run.error.c_str());
  };

  // Interleaved: for each repetition every configuration runs once, in a rotated order.
  const size_t n = results.configs.size();
  // The full run must finish in under 25 minutes even on a busy machine: repetitions beyond
  // the third are skipped once the interleaved part has used its share (20 minutes).
  constexpr int kMinReps = 3;
  constexpr double kInterleavedBudgetS = 20 * 60;
  for (int rep = 0; rep < o.reps; ++rep) {
    if (rep >= kMinReps && since_start() > kInterleavedBudgetS) {
      results.notes.push_back("stopped after " + std::to_string(rep) + " of " +
                              std::to_string(o.reps) +
                              " repetitions: the interleaved part had used its 20-minute budget");
      std::fprintf(stderr, "%s\n", results.notes.back().c_str());
      results.reps = rep;
      break;
    }
    for (size_t k = 0; k < n; ++k) {
      const Config& c = results.configs[(k + static_cast<size_t>(rep)) % n];
      if (!c.available) continue;
      const std::string base = o.work_dir + "/rep" + std::to_string(rep + 1) + "/" + c.name;
      if (!o.skip_alloc) {
        const RunResult run = run_alloc(c, paths, programs, results.alloc, base + "/alloc");
        record_files(results, "alloc", c.name, run);
        record_attach(results, "alloc", c.name, run);
        if (run.ok) {
          results.series["ns_per_pair"][c.name].push_back(run.metrics.at("ns_per_pair"));
          if (run.metrics.count("cpu_ns_per_pair"))
            results.series["cpu_ns_per_pair"][c.name].push_back(run.metrics.at("cpu_ns_per_pair"));
          std::fprintf(stderr, "%6.1f s [rep %d/%d] alloc  %-10s %8.1f ns/pair\n", since_start(),
                       rep + 1, o.reps, c.name.c_str(), run.metrics.at("ns_per_pair"));
        } else {
          fail("rep " + std::to_string(rep + 1) + " alloc " + c.name, run);
        }
        // The tight small-block loop (16-256 B, blocks stay in glibc's thread cache), where
        // per-call costs show; CPU time, not wall time, is its measure.
        AllocParams small = results.alloc;
        small.small = true;
        const RunResult srun = run_alloc(c, paths, programs, small, base + "/alloc-small");
        record_files(results, "alloc-small", c.name, srun);
        record_attach(results, "alloc-small", c.name, srun);
        if (srun.ok && srun.metrics.count("cpu_ns_per_pair")) {
          results.series["small_cpu_ns_per_pair"][c.name].push_back(
              srun.metrics.at("cpu_ns_per_pair"));
          std::fprintf(stderr, "%6.1f s [rep %d/%d] small  %-10s %8.1f CPU ns/pair\n",
                       since_start(), rep + 1, o.reps, c.name.c_str(),
                       srun.metrics.at("cpu_ns_per_pair"));
        } else {
          fail("rep " + std::to_string(rep + 1) + " alloc-small " + c.name, srun);
        }
      }
      if (!o.skip_broker && c.broker) {
        for (const auto& w : results.broker_workloads) {
          const RunResult run = run_broker(c, paths, programs, w, base + "/" + w.name);
          record_files(results, w.name, c.name, run);
          if (!run.ok) {
            fail("rep " + std::to_string(rep + 1) + " " + w.name + " " + c.name, run);
            continue;
          }
          for (const auto& [k2, v] : run.metrics) results.series[k2][c.name].push_back(v);
          std::string line;
          for (const auto& row : results.broker_rows) {
            auto cpu = run.metrics.find(row + ":cpu_us_per_msg");
            auto rate = run.metrics.find(row + ":msgs_per_s");
            if (cpu == run.metrics.end() || rate == run.metrics.end()) continue;
            char buf[128];
            std::snprintf(buf, sizeof buf, " %s %.1f us/msg %.0f msg/s", row.c_str(), cpu->second,
                          rate->second);
            line += buf;
          }
          if (auto a = run.metrics.find(w.name + ":attach_s"); a != run.metrics.end()) {
            char buf[64];
            std::snprintf(buf, sizeof buf, " (attach %.3f s)", a->second);
            line += buf;
          }
          std::fprintf(stderr, "%6.1f s [rep %d/%d] %-10s%s\n", since_start(), rep + 1, o.reps,
                       c.name.c_str(), line.c_str());
        }
      }
    }
  }

  if (!o.skip_extras) {
    // Snapshot size vs uptime: same workload (same live stacks), two run lengths.
    struct UptimeSpec {
      std::string config;
      double seconds;
    };
    std::vector<UptimeSpec> uptime_specs;
    if (o.smoke) {
      uptime_specs = {{"lp-exact", 1.5}, {"lp-exact", 3}, {"heaptrack", 1}};
    } else if (o.quick) {
      uptime_specs = {{"lp-exact", 2}, {"lp-exact", 8}, {"heaptrack", 1}, {"heaptrack", 4}};
    } else {
      uptime_specs = {{"lp-exact", 10}, {"lp-exact", 60}, {"heaptrack", 3}, {"heaptrack", 12}};
    }
    for (const auto& u : uptime_specs) {
      auto it = std::find_if(results.configs.begin(), results.configs.end(),
                             [&](const Config& c) { return c.name == u.config; });
      if (it == results.configs.end() || !it->available) continue;
      AllocParams p;
      p.seconds = u.seconds;
      p.extra_env["LEAKPROBE_INTERVAL"] = "1";
      const std::string dir = o.work_dir + "/uptime/" + u.config + "-" +
                              std::to_string(static_cast<int>(u.seconds * 1000)) + "ms";
      const RunResult run = run_alloc(*it, paths, programs, p, dir);
      UptimeRun ur;
      ur.config = u.config;
      ur.seconds = u.seconds;
      ur.ok = run.ok;
      ur.error = run.error;
      ur.files = run.files.size();
      for (const auto& f : run.files) ur.total_bytes += f.bytes;
      ur.last_snapshot_bytes = last_periodic_snapshot_bytes(run.files, dir + "/prof");
      auto pairs = run.metrics.find("pairs");
      if (pairs != run.metrics.end()) ur.pairs = pairs->second;
      if (run.ok) {
        std::fprintf(
            stderr, "%6.1f s uptime %-10s %4.1f s: last snapshot %lld B, all files %lld B\n",
            since_start(), u.config.c_str(), u.seconds, ur.last_snapshot_bytes, ur.total_bytes);
      } else {
        fail("uptime " + u.config + " " + std::to_string(u.seconds) + " s", run);
      }
      results.uptime.push_back(ur);
    }

    // Snapshot of 1M live allocations over 100k stacks, under the exact probe.
    auto exact = std::find_if(results.configs.begin(), results.configs.end(),
                              [](const Config& c) { return c.name == "lp-exact"; });
    if (exact != results.configs.end() && exact->available) {
      results.snapshot_args = {"--stacks", o.smoke ? "2000" : "100000", "--per-stack",
                               o.smoke ? "3" : "10"};
      const int runs = o.quick || o.smoke ? 1 : 3;
      // Repetitions stop after a minute: a probe regression that makes the 1M allocations
      // slow must not push the whole run past its time budget.
      const double snapshot_budget_s = 60, snapshot_start = since_start();
      for (int i = 0; i < runs && since_start() - snapshot_start < snapshot_budget_s; ++i) {
        const RunResult run =
            run_snapshot_bench(*exact, paths, programs, results.snapshot_args,
                               o.work_dir + "/snapshot/run" + std::to_string(i + 1));
        results.snapshot_runs.push_back(run);
        if (run.ok) {
          std::fprintf(
              stderr, "%6.1f s snapshot 1M/100k: %.3f s, max malloc block %.0f us\n", since_start(),
              run.metrics.count("write_s") ? run.metrics.at("write_s") : -1.0,
              run.metrics.count("max_malloc_block_us") ? run.metrics.at("max_malloc_block_us")
                                                       : -1.0);
        } else {
          fail("snapshot run " + std::to_string(i + 1), run);
        }
      }
    }
  }

  results.finished_utc = utc_now();
  results.load_after = loadavg();
  results.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string md = render_markdown(results);
  std::fputs(md.c_str(), stdout);
  if (!o.markdown_out.empty()) {
    std::ofstream out(o.markdown_out);
    out << md;
    if (!out) {
      std::fprintf(stderr, "bench_runner: cannot write %s\n", o.markdown_out.c_str());
      return 1;
    }
  }
  if (o.strict && !results.failures.empty()) {
    std::fprintf(stderr, "bench_runner: %zu run(s) failed\n", results.failures.size());
    return 1;
  }
  return 0;
}
