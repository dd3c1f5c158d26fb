#include "leakprobe/exporter/collector.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "leakprobe/analysis/analysis.h"
#include "leakprobe/analysis/memory.h"
#include "leakprobe/analysis/pprof_input.h"
#include "leakprobe/cli/control_client.h"
#include "leakprobe/cli/process_list.h"
#include "leakprobe/snapshot_format.h"
#include "leakprobe/symbolize/symbolizer.h"

namespace leakprobe::exporter {

namespace la = leakprobe::analysis;

namespace {

// The process's start time in clock ticks since boot (field 22 of /proc/PID/stat): with the
// pid it names one process, so a reused pid is never mistaken for the one we knew.
uint64_t start_time(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(in, text);
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

std::optional<int64_t> resident_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtoll(line.c_str() + 6, nullptr, 10) * 1024;
    }
  }
  return std::nullopt;
}

std::string section_name(format::ResourceKind kind) {
  return format::kResourceSectionNames[static_cast<unsigned>(kind)];
}

}  // namespace

struct Collector::Tracked {
  uint64_t started = 0;
  std::string exe;
  std::unique_ptr<la::Snapshot> base;  // the first snapshot taken while recording
  std::unique_ptr<symbolize::Symbolizer> symbolizer = std::make_unique<symbolize::Symbolizer>();
  ProcessMetrics metrics;
};

Collector::Collector(CollectorOptions options) : options_(options) {}
Collector::~Collector() = default;

void Collector::collect() {
  const auto t0 = std::chrono::steady_clock::now();
  const auto found = cli::list_probed_processes();
  std::map<int, std::unique_ptr<Tracked>> next;
  std::optional<std::regex> exe_filter;
  if (!options_.exe_regex.empty()) exe_filter.emplace(options_.exe_regex);
  for (const auto& proc : found) {
    if (!options_.pids.empty() &&
        std::find(options_.pids.begin(), options_.pids.end(), proc.pid) == options_.pids.end()) {
      continue;
    }
    if (exe_filter && !std::regex_search(proc.exe, *exe_filter)) continue;
    const uint64_t started = start_time(proc.pid);
    auto it = tracked_.find(proc.pid);
    std::unique_ptr<Tracked> t;
    // The same process (pid and start time) running the same program: after an exec the probe
    // starts afresh in the new image, and so does the growth baseline.
    if (it != tracked_.end() && it->second->started == started && it->second->exe == proc.exe) {
      t = std::move(it->second);
    } else {
      t = std::make_unique<Tracked>();
      t->started = started;
      t->exe = proc.exe;
    }
    ProcessMetrics& m = t->metrics;
    m.pid = proc.pid;
    m.exe = t->exe;
    m.resident_bytes = resident_bytes(proc.pid);

    const cli::ControlReply status =
        cli::control_request(proc.pid, format::kControlRequestStatus, options_.snapshot_timeout);
    const cli::RecordingState state = cli::parse_recording_state(status.text);
    if (!status.ok || !state.known) {
      // Not a probe we can talk to (another user's, or one without its control socket): it is
      // listed by its state only, with the error counted.
      m.state = "failed";
      ++m.snapshot_errors;
      ++health_.errors;
      next[proc.pid] = std::move(t);
      continue;
    }
    m.state = state.failed ? "failed" : state.recording ? "recording" : "dormant";

    const cli::SnapshotResult snap = cli::request_snapshot(proc.pid, options_.snapshot_timeout);
    if (!snap.ok) {
      ++m.snapshot_errors;
      ++health_.errors;
      next[proc.pid] = std::move(t);
      continue;
    }
    la::Result<la::Snapshot> loaded = la::load_input(snap.path);
    if (!options_.keep_snapshots) ::unlink(snap.path.c_str());
    if (!loaded) {
      ++m.snapshot_errors;
      ++health_.errors;
      next[proc.pid] = std::move(t);
      continue;
    }
    auto latest = std::make_unique<la::Snapshot>(std::move(loaded).value());

    // Resources only when the snapshot says they were tracked: no section is not "none open".
    m.descriptors.clear();
    m.posix_timers.reset();
    m.threads.reset();
    if (latest->resources_tracked.value_or(false)) {
      int64_t timers = 0, threads = 0;
      for (const auto& r : latest->resources) {
        if (r.kind == section_name(format::ResourceKind::kTimer)) {
          timers += r.live;
        } else if (r.kind == section_name(format::ResourceKind::kThread)) {
          threads += r.live;
        } else {
          m.descriptors[r.kind] += r.live;
        }
      }
      m.posix_timers = timers;
      m.threads = threads;
    }

    m.heap_live_bytes.reset();
    m.heap_live_objects.reset();
    m.heap_free_bytes.reset();
    m.releasable_bytes.reset();
    m.memory_verdict.clear();
    m.sites.clear();
    if (m.state == "recording") {
      m.heap_live_bytes = latest->totals.live_bytes;
      m.heap_live_objects = latest->totals.live_objs;
      la::MemoryAccount now;
      if (latest->memory.present()) {
        now = la::account_memory(latest->memory, latest->totals.live_bytes,
                                 la::is_sampled(latest->sampling));
        if (now.heap_known) {
          m.heap_free_bytes = static_cast<int64_t>(now.heap_free());
          m.releasable_bytes = static_cast<int64_t>(now.releasable);
        }
      }
      if (t->base && t->base->memory.present() && latest->memory.present()) {
        const la::MemoryAccount base = la::account_memory(
            t->base->memory, t->base->totals.live_bytes, la::is_sampled(t->base->sampling));
        m.memory_verdict =
            la::memory_verdict_name(la::compare_memory(base, now, latest->pid).verdict);
      }
      if (!t->base) {
        t->base = std::move(latest);
      } else {
        la::Options options;
        options.top = options_.top;
        options.by = la::GroupBy::kLine;  // one series per site, however many stacks reach it
        symbolize::Symbolizer* sym = t->symbolizer.get();
        la::SymbolSource source = [sym](const symbolize::ModuleRef& mod, uint64_t offset) {
          return sym->symbolize(mod, offset);
        };
        la::Result<la::Analysis> a = la::analyze({t->base.get(), latest.get()}, source, options);
        if (!a) {
          ++m.snapshot_errors;
          ++health_.errors;
        } else {
          for (const la::Entry& e : a.value().entries) {
            if (e.delta().live_bytes <= 0) continue;  // the top N by growth: growth only
            m.sites.push_back(
                {e.key.text(), e.series.back().live_bytes, e.series.back().live_objs});
          }
        }
      }
    } else {
      // Growth is measured from a snapshot taken while recording: a dormant stretch restarts
      // the baseline rather than counting what was recorded before it.
      t->base.reset();
    }
    next[proc.pid] = std::move(t);
  }
  tracked_ = std::move(next);
  const auto t1 = std::chrono::steady_clock::now();
  health_.collect_seconds = std::chrono::duration<double>(t1 - t0).count();
  health_.last_collect_time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  ++health_.collections;
  health_.processes = tracked_.size();
}

std::vector<ProcessMetrics> Collector::processes() const {
  std::vector<ProcessMetrics> out;
  for (const auto& [pid, t] : tracked_) out.push_back(t->metrics);
  return out;
}

std::chrono::milliseconds parse_duration(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || errno != 0 || !(value > 0)) return std::chrono::milliseconds(0);
  const std::string unit(end);
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = value * 1000;
  } else if (unit == "ms") {
    ms = value;
  } else if (unit == "m") {
    ms = value * 60'000;
  } else if (unit == "h") {
    ms = value * 3'600'000;
  } else {
    return std::chrono::milliseconds(0);
  }
  if (ms < 1 || ms > 86'400'000.0 * 7) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

}  // namespace leakprobe::exporter
