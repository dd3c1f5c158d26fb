// leakprobe: run a program under the probe; ask a running probe for snapshots, switch its
// recording on and off, list the processes that run it.
// Exit codes: 0 ok; 1 the operation failed (no probe, timeout, write error); 2 usage error;
// 126/127 the command given to `run` could not be executed.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "leakprobe/cli/attach_command.h"
#include "leakprobe/cli/control_client.h"
#include "leakprobe/cli/exporter_command.h"
#include "leakprobe/cli/launcher.h"
#include "leakprobe/cli/process_list.h"
#include "leakprobe/cli/run_args.h"
#include "leakprobe/cli/run_as.h"
#include "leakprobe/settings.h"
#include "leakprobe/snapshot_format.h"

namespace fs = std::filesystem;
using namespace leakprobe::cli;
using leakprobe::settings::kOutputDir;
using leakprobe::settings::setting;

namespace {

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

// Copies the published snapshot to `target` through a temporary + rename, so `-o FILE` is never
// seen half-written either.
bool copy_snapshot(const std::string& from, const std::string& target, std::string& error) {
  std::error_code ec;
  const fs::path dest = fs::absolute(target, ec);
  const fs::path tmp = dest.string() + ".tmp";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, dest, ec);
  if (ec) {
    fs::remove(tmp);
    error = "cannot write " + dest.string() + ": " + ec.message();
    return false;
  }
  return true;
}

// A pid is a positive decimal number that fits the kernel's pid range; anything else is a typo.
// "--depth N" help: the table's line, its variable and default.
std::string settings_help(const leakprobe::settings::Setting& s) {
  return std::string(s.help) + " [" + s.name + "; default " + s.default_text + "]";
}

// Checks a value with the probe's own parser, so `leakprobe run` refuses exactly what the probe
// would refuse, with the same words.
CLI::Validator setting_validator(const leakprobe::settings::Setting& s) {
  return CLI::Validator(
      [&s](std::string& value) -> std::string {
        uint64_t parsed = 0;
        const auto verdict = leakprobe::settings::parse_setting(s, value.c_str(), &parsed);
        if (verdict == leakprobe::settings::Verdict::kOk) return {};
        char why[160];
        leakprobe::settings::describe_refusal(s, verdict, why, sizeof(why));
        return value + " " + why;
      },
      "");
}

int parse_pid(const std::string& text) {
  if (text.empty() || text.size() > 9) return -1;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
  }
  return std::stoi(text);
}

int run_command(RunSettings settings, const std::string& output_owner) {
  const std::string library = find_probe_library(self_exe());
  if (library.empty()) {
    const char* env = ::getenv("LEAKPROBE_LIBRARY");
    if (env && *env) {
      std::cerr << "leakprobe: LEAKPROBE_LIBRARY=" << env << " is not a file\n";
    } else {
      std::cerr << "leakprobe: cannot find libleakprobe.so (looked for";
      for (const auto& c : probe_library_candidates(self_exe())) std::cerr << " " << c;
      std::cerr << "; set LEAKPROBE_LIBRARY to its path)\n";
    }
    return 1;
  }
  std::error_code ec;
  settings.output_dir = fs::absolute(settings.output_dir, ec).lexically_normal().string();
  if (settings.output_dir.size() > 1 && settings.output_dir.back() == '/') {
    settings.output_dir.pop_back();
  }
  // The directory must stay writable after the program switches user (mosquitto started as
  // root drops to its own), so it goes to the user the program will run as.
  RunAs owner;
  if (!output_owner.empty()) {
    std::string error;
    owner = owner_from_option(output_owner, error);
    if (!error.empty()) {
      std::cerr << "leakprobe run: " << error << "\n";
      return 2;
    }
  } else {
    owner = predict_run_as(settings.command, ::geteuid());
  }
  if (const std::string error = prepare_output_dir(settings.output_dir, owner); !error.empty()) {
    std::cerr << "leakprobe: " << error << "\n";
    return 1;
  }
  std::string whose;
  if (owner.known && owner.uid != ::geteuid()) {
    whose = " (for user " + owner.name + ": " + owner.why + ")";
  }
  std::cerr << "leakprobe: profiling pid " << ::getpid() << " (" << settings.command[0]
            << "); snapshots go to " << settings.output_dir << whose
            << "; take one with: leakprobe snapshot " << ::getpid() << "\n";
  const std::string error = exec_with_probe(settings, library);
  std::cerr << "leakprobe: " << error << "\n";
  return errno == ENOENT ? 127 : 126;
}

int snapshot_command(int pid, const std::string& output, double timeout_seconds, bool peak) {
  const auto timeout = std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
  const SnapshotResult result = peak ? peak_snapshot(pid, timeout) : request_snapshot(pid, timeout);
  if (!result.ok) {
    std::cerr << "leakprobe: " << result.error << "\n";
    return 1;
  }
  // A dormant probe's snapshot holds only what was recorded while it was on (perhaps
  // nothing): say so, so an empty file is not read as "no leak".
  const RecordingState state = parse_recording_state(
      control_request(pid, leakprobe::format::kControlRequestStatus, timeout).text);
  if (state.known && !state.recording && !state.failed) {
    std::cerr << "leakprobe: note: pid " << pid
              << " is dormant (not recording): this snapshot shows only blocks recorded while "
                 "it was on; start recording with `leakprobe enable "
              << pid << "`\n";
  }
  if (output.empty()) {
    std::cout << result.path << "\n";
    return 0;
  }
  std::string error;
  if (!copy_snapshot(result.path, output, error)) {
    std::cerr << "leakprobe: snapshot written to " << result.path << " but " << error << "\n";
    return 1;
  }
  std::cout << fs::absolute(output).string() << "\n";
  return 0;
}

// `leakprobe enable|disable PID`: switch recording in the running process; prints what the
// probe says it is doing now.
int recording_command(int pid, bool on, double timeout_seconds) {
  const auto timeout = std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
  const ControlReply reply = control_request(
      pid,
      on ? leakprobe::format::kControlRequestEnable : leakprobe::format::kControlRequestDisable,
      timeout);
  if (!reply.ok) {
    std::cerr << "leakprobe: " << (reply.refused ? "the probe refused: " : "") << reply.error
              << "\n";
    return 1;
  }
  // "recording off" / "dormant on": the new state and what it was before.
  std::istringstream words(reply.text);
  std::string now, before;
  words >> now >> before;
  const bool was_on = before == "on";
  if (on) {
    std::cout << "pid " << pid << ": recording"
              << (was_on ? " (it already was)"
                         : " from now on; snapshots show what is allocated from here and "
                           "still live")
              << "\n";
  } else {
    std::cout << "pid " << pid << ": dormant"
              << (was_on ? "; nothing new is recorded, blocks recorded so far stay in snapshots "
                           "until freed"
                         : " (it already was)")
              << "\n";
  }
  return 0;
}

// `leakprobe trim PID`: the probe's thread calls malloc_trim(0); prints RSS before and after,
// which proves (or refutes) "allocator retention" on the running process.
int trim_command(int pid, double timeout_seconds) {
  const auto timeout = std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
  const ControlReply reply = control_request(pid, leakprobe::format::kControlRequestTrim, timeout);
  if (!reply.ok) {
    std::cerr << "leakprobe: " << (reply.refused ? "the probe refused: " : "") << reply.error
              << "\n";
    return 1;
  }
  // "rss-before=<bytes> rss-after=<bytes> released=<0|1>"
  long long before = -1, after = -1;
  int released = 0;
  std::istringstream words(reply.text);
  for (std::string word; words >> word;) {
    const auto eq = word.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
    if (key == "rss-before") before = std::atoll(value.c_str());
    if (key == "rss-after") after = std::atoll(value.c_str());
    if (key == "released") released = std::atoi(value.c_str());
  }
  if (before < 0 || after < 0) {
    std::cerr << "leakprobe: unexpected answer from the probe: " << reply.text << "\n";
    return 1;
  }
  auto mib = [](long long bytes) {
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(1);
    o << static_cast<double>(bytes) / (1024.0 * 1024.0) << " MiB";
    return o.str();
  };
  std::cout << "pid " << pid << ": malloc_trim(0) "
            << (released ? "returned memory to the kernel" : "found nothing to return")
            << "\n  RSS before  " << mib(before) << " (" << before << " bytes)\n  RSS after   "
            << mib(after) << " (" << after << " bytes)\n  released    " << mib(before - after)
            << " (" << before - after << " bytes)\n";
  return 0;
}

int list_command() {
  const auto processes = list_probed_processes();
  if (processes.empty()) {
    std::cerr << "leakprobe: no running process has the probe loaded (that this user can see)\n";
    return 1;
  }
  std::cout << "PID\tSTATE\tMODE\tKEPT\tSIGNAL\tPROGRAM\n";
  for (const auto& p : processes) {
    const ControlReply reply =
        control_request(p.pid, leakprobe::format::kControlRequestStatus, std::chrono::seconds(2));
    const RecordingState state = parse_recording_state(reply.text);
    std::string word = "?", mode = "?", kept = "?", signal = "?";
    if (reply.ok && state.known) {
      word = state.failed ? "failed" : state.recording ? "recording" : "dormant";
      mode = state.mode;
      kept = state.kept;
      signal = state.signal;
    } else if (!reply.ok && !reply.refused) {
      // LEAKPROBE_CONTROL=0, a socket it could not open or serve (see the program's stderr),
      // or a name held by another process.
      word = "no-socket";
    }
    std::cout << p.pid << "\t" << word << "\t" << mode << "\t" << kept << "\t" << signal << "\t"
              << p.exe << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "leakprobe: find what grows in a running service, by call stack.\n"
      "Snapshots are gperftools/pprof heap profiles; compare them with heapdiff."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "leakprobe " LEAKPROBE_VERSION);

  RunSettings run;
  run.output_dir = ".";
  auto* run_cmd = app.add_subcommand("run", "Run CMD with the probe preloaded (keeps the pid)");
  run_cmd->add_option("-o,--output", run.output_dir, settings_help(setting(kOutputDir)))
      ->capture_default_str();
  std::string output_owner;
  run_cmd->add_option("--output-owner", output_owner,
                      "User (name or uid) who gets a newly created output directory, for a "
                      "program that switches user after start [default: the user it will run "
                      "as where known (mosquitto: its `user` line, else `mosquitto`), else "
                      "this user]");
  // Every other probe setting, from the one table the probe parses too: same names, same
  // limits, same refusal text.
  std::map<std::string, std::string> run_values;
  std::vector<std::pair<const leakprobe::settings::Setting*, CLI::Option*>> run_options;
  for (const auto& s : leakprobe::settings::kTable) {
    if (!s.flag || s.reader != leakprobe::settings::Reader::kProbe || s.id == kOutputDir) continue;
    std::string names = std::string("--") + s.flag;
    if (s.letter) names = std::string("-") + s.letter + "," + names;
    std::string& value = run_values[s.name];
    CLI::Option* opt =
        s.kind == leakprobe::settings::Kind::kFlag
            ? run_cmd->add_flag(names, value, settings_help(s))  // --quiet, --quiet=0
            : run_cmd->add_option(names, value, settings_help(s));
    opt->check(setting_validator(s));
    run_options.emplace_back(&s, opt);
  }
  // Everything from the first positional on belongs to the profiled program, so
  // `leakprobe run mosquitto -c conf` works with or without `--`.
  run_cmd->prefix_command();
  run_cmd->footer(
      "Example: leakprobe run --output /var/tmp/lp -- mosquitto -c /etc/mosquitto/m.conf");

  std::string pid_text;
  std::string output;
  double timeout = 30;
  auto* snap_cmd = app.add_subcommand("snapshot",
                                      "Ask the probe in PID for a snapshot now, wait "
                                      "until it is written and print its path");
  snap_cmd->add_option("pid", pid_text, "Process id")->required();
  snap_cmd->add_option("-o,--output", output, "Also copy the snapshot to FILE and print that");
  bool peak = false;
  snap_cmd->add_flag("--peak", peak,
                     "Do not take a new one: print the newest peak snapshot (LEAKPROBE_PEAK=1)");
  snap_cmd->add_option("-t,--timeout", timeout, "Seconds to wait")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  std::string switch_pid_text;
  double switch_timeout = 10;
  auto* enable_cmd = app.add_subcommand(
      "enable",
      "Start recording in the probe of PID (e.g. one installed with LEAKPROBE_ENABLED=0)");
  auto* disable_cmd = app.add_subcommand(
      "disable", "Stop recording in the probe of PID; it stays loaded, dormant, until enabled");
  for (auto* cmd : {enable_cmd, disable_cmd}) {
    cmd->add_option("pid", switch_pid_text, "Process id")->required();
    cmd->add_option("-t,--timeout", switch_timeout, "Seconds to wait for the answer")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
  }

  std::string trim_pid_text;
  double trim_timeout = 30;
  auto* trim_cmd = app.add_subcommand(
      "trim",
      "Have the probe in PID call malloc_trim(0) and print RSS before and after: memory that "
      "comes back was free memory malloc kept, not a leak");
  trim_cmd->add_option("pid", trim_pid_text, "Process id")->required();
  trim_cmd->add_option("-t,--timeout", trim_timeout, "Seconds to wait for the answer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  auto* list_cmd = app.add_subcommand(
      "list",
      "List processes that run the probe: pid, recording or dormant, mode, kept, snapshot "
      "signal, program");

  ExporterCommand exporter(app);
  AttachCommand attach(app);

  // CLI11 would try to parse the profiled program's own options, so everything after the first
  // `--` is cut off here and handed over untouched; run's own words get their flag values
  // joined first (`--enabled 0` -> `--enabled=0`, see join_flag_values).
  std::vector<std::string> words(argv, argv + argc);
  std::vector<std::string> after_dashes;
  bool had_dashes = false;
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "--") {
      after_dashes.assign(words.begin() + static_cast<std::ptrdiff_t>(i) + 1, words.end());
      words.resize(i);
      had_dashes = true;
      break;
    }
  }
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] != "run") continue;
    const std::vector<std::string> run_words(words.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                             words.end());
    words.resize(i + 1);
    for (auto& w : join_flag_values(run_words, {"--output-owner"}, had_dashes))
      words.push_back(std::move(w));
    break;
  }
  std::vector<char*> cli_argv;
  for (auto& w : words) cli_argv.push_back(w.data());
  try {
    app.parse(static_cast<int>(cli_argv.size()), cli_argv.data());
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // --help is success; every other parse error is a usage error
  }

  if (*run_cmd) {
    std::string problem;
    run.command = command_words(run_cmd->remaining(), had_dashes, after_dashes, problem);
    if (!problem.empty()) {
      std::cerr << "leakprobe run: " << problem << "\n";
      return 2;
    }
    if (run.command.empty()) {
      std::cerr
          << "leakprobe run: no command given; usage: leakprobe run [OPTIONS] -- CMD ARGS...\n";
      return 2;
    }
    for (const auto& [s, opt] : run_options) {
      if (*opt) run.probe_settings[s->name] = run_values[s->name];
    }
    return run_command(run, output_owner);
  }
  if (*snap_cmd) {
    const int pid = parse_pid(pid_text);
    if (pid <= 0) {
      std::cerr << "leakprobe snapshot: '" << pid_text << "' is not a process id\n";
      return 2;
    }
    return snapshot_command(pid, output, timeout, peak);
  }
  for (auto* cmd : {enable_cmd, disable_cmd}) {
    if (!*cmd) continue;
    const int pid = parse_pid(switch_pid_text);
    if (pid <= 0) {
      std::cerr << "leakprobe " << cmd->get_name() << ": '" << switch_pid_text
                << "' is not a process id\n";
      return 2;
    }
    return recording_command(pid, cmd == enable_cmd, switch_timeout);
  }
  if (*trim_cmd) {
    const int pid = parse_pid(trim_pid_text);
    if (pid <= 0) {
      std::cerr << "leakprobe trim: '" << trim_pid_text << "' is not a process id\n";
      return 2;
    }
    return trim_command(pid, trim_timeout);
  }
  if (*list_cmd) return list_command();
  if (exporter.chosen()) return exporter.run();
  if (attach.chosen()) return attach.run();
  return 2;
}
