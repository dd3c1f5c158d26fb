#include "workloads.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "attach_step.h"
#include "bench/proc_stat.h"
#include "bench/result_line.h"

namespace fs = std::filesystem;

namespace bench {
namespace {

constexpr auto kProgramTimeout = std::chrono::minutes(5);

std::string prepare(const std::string& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir + "/prof");
  return dir + "/prof";
}

std::vector<ParsedResult> results_in(const std::string& stdout_path) {
  std::vector<ParsedResult> out;
  std::istringstream in(read_file(stdout_path));
  std::string line;
  while (std::getline(in, line)) {
    if (auto r = parse_result_line(line)) out.push_back(*r);
  }
  return out;
}

std::string tail(const std::string& path) {
  std::string text = read_file(path);
  if (text.size() > 400) text = "..." + text.substr(text.size() - 400);
  for (char& c : text)
    if (c == '\n' || c == '|') c = ' ';
  return text;
}

long long scaled(long long count, const Config& config) {
  if (count == 0) return 0;
  return std::max<long long>(count / config.broker_divisor, std::min<long long>(count, 100));
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string describe(const ExitInfo& e) {
  if (!e.exited) return "timed out and was killed";
  if (e.signal != 0) return "killed by signal " + std::to_string(e.signal);
  return "exit code " + std::to_string(e.exit_code);
}

// Runs one workload program to completion and collects its RESULT lines.
// `extra_env` is applied after the configuration's own settings.
// `after_start`, when given, runs once the program started (with its pid and output
// directory); a non-empty return is an error: the program is killed and the run fails.
RunResult run_program(
    const Config& config, const Paths& paths, SpawnSpec spec, const std::string& dir,
    const std::string& tag, const std::map<std::string, std::string>& extra_env,
    std::vector<ParsedResult>& results,
    const std::function<std::string(pid_t, const std::string&)>& after_start = nullptr) {
  RunResult run;
  const std::string prof = prepare(dir);
  spec.stdout_path = dir + "/stdout.txt";
  spec.stderr_path = dir + "/stderr.txt";
  apply_config(config, paths, prof, tag, spec);
  for (const auto& [k, v] : extra_env) spec.env_set[k] = v;
  std::string error;
  const auto pid = spawn(spec, error);
  if (!pid) {
    run.error = error;
    return run;
  }
  if (after_start) {
    if (std::string why = after_start(*pid, prof); !why.empty()) {
      wait_or_kill(*pid, std::chrono::milliseconds(0));
      run.files = list_files(prof);
      run.error = why;
      return run;
    }
  }
  const ExitInfo e = wait_or_kill(*pid, kProgramTimeout);
  results = results_in(spec.stdout_path);
  run.files = list_files(prof);
  if (!e.exited || e.exit_code != 0 || results.empty()) {
    run.error = spec.argv[0] + ": " + describe(e) + "; stderr: " + tail(spec.stderr_path);
    return run;
  }
  run.ok = true;
  return run;
}

}  // namespace

std::vector<FileSize> list_files(const std::string& dir) {
  std::vector<FileSize> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec))
      files.push_back(
          {fs::relative(it->path(), dir, ec).string(), static_cast<long long>(it->file_size(ec))});
  }
  return files;
}

RunResult run_alloc(const Config& config, const Paths& paths, const Programs& programs,
                    const AllocParams& params, const std::string& dir) {
  SpawnSpec spec;
  spec.argv = {programs.alloc};
  if (params.seconds > 0) {
    spec.argv.insert(spec.argv.end(), {"--seconds", std::to_string(params.seconds)});
  } else {
    const long long pairs = std::max<long long>(params.pairs / config.alloc_divisor, 10000);
    spec.argv.insert(spec.argv.end(), {"--pairs", std::to_string(pairs)});
  }
  if (params.small) spec.argv.insert(spec.argv.end(), {"--sizes", "small"});
  std::vector<ParsedResult> results;
  // Attached: bench_alloc waits for a byte on a FIFO with its threads created and idle (a safe
  // point); the probe is attached then, and the byte starts the measured loop. (The FIFO sits
  // beside `dir`, which run_program empties.)
  std::function<std::string(pid_t, const std::string&)> attach;
  std::optional<AttachStep> attached;
  double loop_started_unix = 0;
  const std::string fifo = dir + ".start.fifo";
  if (config.attach != Attach::kNone) {
    std::error_code ec;
    fs::create_directories(fs::path(dir).parent_path(), ec);
    fs::remove(fifo, ec);
    if (::mkfifo(fifo.c_str(), 0600) != 0) {
      RunResult failed;
      failed.error = "mkfifo " + fifo + ": " + std::strerror(errno);
      return failed;
    }
    spec.argv.insert(spec.argv.end(), {"--start-fifo", fifo});
    attach = [&](pid_t pid, const std::string& prof) -> std::string {
      const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
      bool waiting = false;
      for (int i = 0; i < 400 && !waiting; ++i) {  // bounded: 20 s
        std::error_code e;
        for (const auto& fd : fs::directory_iterator(fds, e))
          waiting = waiting || fs::read_symlink(fd.path(), e).string() == fifo;
        if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!waiting) return "bench_alloc did not open its start FIFO within 20 s";
      attached = attach_probe(config, paths, pid, prof, dir, dir + "/stderr.txt");
      if (!attached->ok) return attached->error;
      loop_started_unix = unix_now();
      const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      const bool sent = fd >= 0 && ::write(fd, "g", 1) == 1;
      if (fd >= 0) ::close(fd);
      return sent ? "" : "cannot write bench_alloc's start FIFO " + fifo;
    };
  }
  RunResult run = run_program(config, paths, spec, dir, "alloc", params.extra_env, results, attach);
  if (config.attach != Attach::kNone) {
    std::error_code ec;
    fs::remove(fifo, ec);
  }
  if (attached) {
    run.metrics["attach_s"] = attached->attach_s;
    if (attached->detach_s >= 0) run.metrics["detach_s"] = attached->detach_s;
    if (attached->calls_rewritten >= 0) run.metrics["calls_rewritten"] = attached->calls_rewritten;
  }
  if (!run.ok) return run;
  if (attached) {
    // The exit snapshot says what recorded the loop: attached, in its mode, with the loop's
    // stacks (exact); detached: off since before the loop (or no snapshot at all).
    if (std::string why = check_exit_snapshot(config, dir + "/prof", loop_started_unix);
        !why.empty()) {
      run.ok = false;
      run.error = "not measured as " + config.name + ": " + why;
      return run;
    }
  }
  for (const auto& r : results) {
    if (r.workload != "alloc") continue;
    if (auto v = r.number("ns_per_pair")) run.metrics["ns_per_pair"] = *v;
    if (auto v = r.number("cpu_ns_per_pair")) run.metrics["cpu_ns_per_pair"] = *v;
    if (auto v = r.number("pairs")) run.metrics["pairs"] = *v;
  }
  run.ok = run.metrics.count("ns_per_pair") == 1;
  if (!run.ok) run.error = "bench_alloc printed no ns_per_pair";
  return run;
}

RunResult run_snapshot_bench(const Config& config, const Paths& paths, const Programs& programs,
                             const std::vector<std::string>& args, const std::string& dir) {
  SpawnSpec spec;
  spec.argv = {programs.snapshot};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  std::vector<ParsedResult> results;
  RunResult run = run_program(config, paths, spec, dir, "snapshot", {}, results);
  if (!run.ok) return run;
  for (const auto& r : results) {
    if (r.workload != "snapshot") continue;
    for (const auto& [k, v] : r.values) {
      if (auto n = r.number(k)) run.metrics[k] = *n;
    }
  }
  return run;
}

std::vector<BrokerWorkload> broker_workloads(const std::string& mode) {
  // Sizes: the full run gives the unprofiled broker 1-4 s per workload on this machine.
  const bool smoke = mode == "smoke", quick = mode == "quick";
  auto size = [&](long long full, long long q, long long s) {
    return smoke ? s : quick ? q : full;
  };
  return {
      {"twopub",
       "2 publishers, 2 subscribers (`bench/#`, `bench/+/+`, both match every topic), a QoS 0 "
       "phase then a QoS 1 phase, 64–256-byte payloads over 16 topics (the issue-5 workload)",
       {{"--qos0-messages", size(40000, 8000, 300)}, {"--qos1-messages", size(15000, 3000, 150)}}},
      {"fanout",
       "4 publishers over 64 topics at depths 3–4, QoS 0/1/2 interleaved per message, 64–1024-byte "
       "payloads; 6 subscribers with overlapping filters `#`, `+/x/#`, `a/+/c`, `a/#`, `+/+/c/#`, "
       "`b/+/+` (granted QoS 2/1/0), ~2.3 deliveries per message",
       {{"--messages", size(30000, 6000, 300)}}},
      {"churn",
       "4 clients in a loop: connect, subscribe to 3 filters, publish 8 messages (QoS 0/1/2, "
       "64–1024 bytes), unsubscribe, leave; half the sessions persistent, every 4th cycle with a "
       "Will and dropped without DISCONNECT; 2 steady subscribers (`churn/#`, `churn/+/status`)",
       {{"--cycles", size(1200, 240, 12)}}},
      {"retained",
       "500 retained topics in 10 groups; per round 2 publishers set a quarter and clear a "
       "twentieth (QoS 1/2, 64–1024 bytes), then 4 subscribers join with `ret/gN/#`, `ret/#`, "
       "`ret/gN/+` or `ret/+/devN`, take the retained messages and leave; a steady `ret/#` "
       "subscriber",
       {{"--rounds", size(200, 40, 3)}}},
  };
}

std::string broker_row(const std::string& workload, const std::string& phase) {
  return phase.empty() || phase == "all" ? workload : workload + "-" + phase;
}

RunResult run_broker(const Config& config, const Paths& paths, const Programs& programs,
                     const BrokerWorkload& workload, const std::string& dir) {
  RunResult run;
  const std::string prof = prepare(dir);
  const auto port = pick_free_port();
  if (!port) {
    run.error = "no free loopback port";
    return run;
  }
  const std::string conf = dir + "/mosquitto.conf";
  {
    std::ofstream c(conf);
    c << "listener " << *port << " 127.0.0.1\n"
      << "allow_anonymous true\n"
      << "persistence false\n"
      // Unbounded queues: a slow (profiled) broker must not drop QoS 0 messages, or the
      // configurations would not deliver the same work.
      << "max_queued_messages 0\n"
      // As many unacknowledged QoS 1/2 messages per subscriber as the load generator allows
      // its publishers (--inflight, default 1000), so QoS 1/2 is not latency-bound.
      << "max_inflight_messages 1000\n"
      // Without it the broker's replies wait for the clients' delayed ACKs (Nagle): churn ran
      // 17x slower with the broker idle 98% of the time, measuring TCP timers.
      << "set_tcp_nodelay true\n"
      << "log_dest stderr\n"
      << "log_type error\n"
      << "log_type warning\n";
    if (::geteuid() == 0) c << "user root\n";  // otherwise it drops to "mosquitto"
  }
  SpawnSpec broker;
  broker.argv = {programs.mosquitto, "-c", conf};
  broker.stdout_path = dir + "/broker.stdout.txt";
  broker.stderr_path = dir + "/broker.stderr.txt";
  apply_config(config, paths, prof, "mosquitto", broker);
  std::string error;
  const auto wrapper = spawn(broker, error);
  if (!wrapper) {
    run.error = error;
    return run;
  }
  // Under heaptrack the broker is a child of its shell script; find the real mosquitto.
  std::optional<pid_t> mosq;
  bool ready = false;
  for (int i = 0; i < 600 && !ready; ++i) {  // bounded: 30 s
    if (::waitpid(*wrapper, nullptr, WNOHANG) == *wrapper) {
      run.error = "mosquitto exited at start; stderr: " + tail(broker.stderr_path);
      ::kill(-*wrapper, SIGKILL);
      return run;
    }
    if (!mosq) mosq = find_descendant(*wrapper, "mosquitto");
    ready = mosq && port_accepts(*port);
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto stop_broker = [&]() {
    // Only the broker is asked to stop: heaptrack's script must see its client exit normally,
    // or its EXIT trap kills the interpreter before the data file is written.
    ::kill(mosq ? *mosq : *wrapper, SIGTERM);
    // heaptrack needs time to finish interpreting and compressing after the broker exits.
    return wait_or_kill(*wrapper, std::chrono::seconds(120));
  };
  if (!ready) {
    stop_broker();
    run.error = "mosquitto did not accept connections on port " + std::to_string(*port) +
                " within 30 s; stderr: " + tail(broker.stderr_path);
    return run;
  }

  // Attached configurations: the plain broker is up; the probe comes in now, before the load,
  // so the attach itself is not in the measured phases (its wall time is reported apart).
  std::optional<AttachStep> attached;
  if (config.attach != Attach::kNone) {
    attached = attach_probe(config, paths, *mosq, prof, dir, broker.stderr_path);
    if (!attached->ok) {
      stop_broker();
      run.files = list_files(prof);
      run.error = attached->error;
      return run;
    }
    run.metrics[workload.name + ":attach_s"] = attached->attach_s;
    if (attached->detach_s >= 0) run.metrics[workload.name + ":detach_s"] = attached->detach_s;
    if (attached->calls_rewritten >= 0)
      run.metrics[workload.name + ":calls_rewritten"] = attached->calls_rewritten;
  }
  const double load_started_unix = unix_now();

  SpawnSpec load;
  load.argv = {programs.broker_load, "--workload", workload.name, "--port", std::to_string(*port),
               // The broker's process group (spawn() made the wrapper its leader): heaptrack's
               // interpreter and compressor are part of the broker's cost.
               "--broker-pgid", std::to_string(*wrapper)};
  for (const auto& [flag, count] : workload.counts)
    load.argv.insert(load.argv.end(), {flag, std::to_string(scaled(count, config))});
  load.env_unset = {"LD_PRELOAD", "HEAPPROFILE"};  // the load generator is never profiled
  load.stdout_path = dir + "/load.stdout.txt";
  load.stderr_path = dir + "/load.stderr.txt";
  const auto load_pid = spawn(load, error);
  if (!load_pid) {
    stop_broker();
    run.error = error;
    return run;
  }
  const ExitInfo le = wait_or_kill(*load_pid, kProgramTimeout);
  // Peak RSS must be read before the broker is asked to stop.
  const auto hwm = process_status_kb(*mosq, "VmHWM");
  // The measured broker was what the configuration says: attached and recording (or detached
  // and not), by a snapshot taken now, after the measured phases.
  const std::string not_as_named =
      attached && le.exited && le.exit_code == 0
          ? verify_after_load(config, paths, *mosq, dir, load_started_unix)
          : "";
  const ExitInfo be = stop_broker();
  run.files = list_files(prof);

  if (!le.exited || le.exit_code != 0) {
    run.error = "load generator: " + describe(le) + "; stderr: " + tail(load.stderr_path);
    return run;
  }
  bool complete = true;
  for (const auto& r : results_in(load.stdout_path)) {
    if (r.workload != "broker") continue;
    auto phase = r.values.find("phase");
    if (phase == r.values.end()) continue;
    const std::string row = broker_row(workload.name, phase->second) + ":";
    for (const char* field :
         {"msgs_per_s", "broker_core", "broker_wait_core", "load_core", "broker_cpu_us_per_cycle"})
      if (auto v = r.number(field)) run.metrics[row + field] = *v;
    if (auto v = r.number("broker_cpu_us_per_msg")) run.metrics[row + "cpu_us_per_msg"] = *v;
    if (r.number("complete").value_or(0) != 1) complete = false;
  }
  if (hwm) run.metrics[workload.name + ":vmhwm_kb"] = static_cast<double>(*hwm);
  if (!be.exited) {
    run.error = "mosquitto did not stop within 120 s of SIGTERM";
    return run;
  }
  if (!not_as_named.empty()) {
    run.error = "not measured as " + config.name + ": " + not_as_named;
    return run;
  }
  run.ok = complete && std::any_of(run.metrics.begin(), run.metrics.end(), [](const auto& m) {
             return m.first.find(":msgs_per_s") != std::string::npos;
           });
  if (!run.ok) run.error = "load generator printed no complete results";
  return run;
}

}  // namespace bench
