#include "leakprobe/cli/attach_command.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "leakprobe/cli/attach_preflight.h"
#include "leakprobe/settings.h"

namespace leakprobe::cli {

namespace {

int parse_pid_text(const std::string& text) {
  if (text.empty() || text.size() > 9) return -1;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
  }
  const int pid = std::stoi(text);
  return pid > 0 ? pid : -1;
}

// True when the probe came in through LD_PRELOAD (`leakprobe run`, a systemd drop-in): such a
// probe cannot be taken out again, only switched off.
bool preloaded(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  while (std::getline(in, entry, '\0')) {
    if (entry.rfind("LD_PRELOAD=", 0) == 0 && entry.find("libleakprobe") != std::string::npos)
      return true;
  }
  return false;
}

}  // namespace

AttachCommand::AttachCommand(CLI::App& app) {
  attach_ = app.add_subcommand(
      "attach",
      "Check whether the probe can be loaded into the running process PID (no restart, same "
      "pid); refuses, before touching it, whatever cannot work or be safe");
  attach_->add_option("pid", pid_text_, "Process id")->required();
  attach_->add_option("-o,--output", output_dir_,
                      "Directory for its snapshots, as the process sees it [default: its "
                      "working directory]");
  attach_->add_option("--sample-bytes", sample_bytes_,
                      "Record a sample: about one allocation per N bytes allocated [default: "
                      "exact]");
  attach_->add_flag("--check", check_only_,
                    "Only run the checks: exit 0 if PID could be attached, 1 with the reason if "
                    "not");
  attach_->footer(
      "This version runs the checks only: loading the probe into a running process is not built "
      "yet. Start the program with `leakprobe run` (docs/guide.md).");

  detach_ = app.add_subcommand(
      "detach", "Stop recording in a process the probe was attached to, and put its calls back");
  detach_->add_option("pid", pid_text_, "Process id")->required();
}

int AttachCommand::run() const { return *attach_ ? attach() : detach(); }

int AttachCommand::attach() const {
  const int pid = parse_pid_text(pid_text_);
  if (pid <= 0) {
    std::cerr << "leakprobe attach: '" << pid_text_ << "' is not a process id\n";
    return 2;
  }
  if (!sample_bytes_.empty()) {
    const auto& s = settings::setting(settings::kSampleBytes);
    uint64_t parsed = 0;
    const auto verdict = settings::parse_setting(s, sample_bytes_.c_str(), &parsed);
    if (verdict != settings::Verdict::kOk) {
      char why[160];
      settings::describe_refusal(s, verdict, why, sizeof(why));
      std::cerr << "leakprobe attach: --sample-bytes: " << sample_bytes_ << " " << why << "\n";
      return 2;
    }
  }
  if (!output_dir_.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(output_dir_, ec)) {
      std::cerr << "leakprobe attach: --output: " << output_dir_ << " is not a directory\n";
      return 2;
    }
  }
  if (pid == ::getpid()) {
    std::cerr << "leakprobe attach: pid " << pid << " is this command itself\n";
    return 1;
  }
  const Verdict verdict = judge_attach(read_process_view(pid));
  if (!verdict.ok) {
    std::cerr << "leakprobe attach: " << verdict.reason << "\n";
    return 1;
  }
  if (check_only_) {
    std::cout << "pid " << pid << ": every check passed; nothing was done to it\n";
    return 0;
  }
  std::cerr << "leakprobe attach: pid " << pid
            << " passes every check, but this version cannot load the probe into a running "
               "process yet; nothing was done to it. Start the program with `leakprobe run`\n";
  return 1;
}

int AttachCommand::detach() const {
  const int pid = parse_pid_text(pid_text_);
  if (pid <= 0) {
    std::cerr << "leakprobe detach: '" << pid_text_ << "' is not a process id\n";
    return 2;
  }
  std::ifstream maps_file("/proc/" + std::to_string(pid) + "/maps");
  if (!std::filesystem::exists("/proc/" + std::to_string(pid) + "/status")) {
    std::cerr << "leakprobe detach: no process with pid " << pid << "\n";
    return 1;
  }
  std::ostringstream maps;
  maps << maps_file.rdbuf();
  if (maps.str().empty()) {
    std::cerr << "leakprobe detach: cannot read /proc/" << pid
              << "/maps: run it as the process's user or as root\n";
    return 1;
  }
  if (!maps_show_probe(parse_map_paths(maps.str()))) {
    std::cerr << "leakprobe detach: pid " << pid << " has no probe loaded: nothing to detach\n";
    return 1;
  }
  if (preloaded(pid)) {
    std::cerr << "leakprobe detach: pid " << pid
              << " was started with the probe preloaded, not attached, so it stays; "
                 "`leakprobe disable "
              << pid << "` stops recording\n";
    return 1;
  }
  std::cerr << "leakprobe detach: pid " << pid
            << " has the probe loaded, but this version cannot take an attached probe out; "
               "`leakprobe disable "
            << pid << "` stops recording\n";
  return 1;
}

}  // namespace leakprobe::cli
