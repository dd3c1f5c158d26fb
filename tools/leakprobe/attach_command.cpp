#include "leakprobe/cli/attach_command.h"

#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "leakprobe/cli/attach_injector.h"
#include "leakprobe/cli/attach_preflight.h"
#include "leakprobe/cli/control_client.h"
#include "leakprobe/cli/launcher.h"
#include "leakprobe/cli/run_as.h"
#include "leakprobe/settings.h"
#include "leakprobe/snapshot_format.h"

namespace leakprobe::cli {

namespace fs = std::filesystem;

namespace {

int parse_pid_text(const std::string& text) {
  if (text.empty() || text.size() > 9) return -1;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
  }
  const int pid = std::stoi(text);
  return pid > 0 ? pid : -1;
}

std::string self_exe_path() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).string();
}

std::string basename_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The probe mapped in `pid`, as /proc/PID/maps names it (without " (deleted)"), or "".
std::string mapped_probe(const ProcessView& v) {
  for (const auto& p : v.map_paths) {
    if (basename_of(p).rfind("libleakprobe.so", 0) != 0) continue;
    static const std::string kDeleted = " (deleted)";
    if (p.size() > kDeleted.size() &&
        p.compare(p.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0)
      return p.substr(0, p.size() - kDeleted.size());
    return p;
  }
  return {};
}

// True when `path` names the same file here and inside the target (its mount namespace may
// differ: a container). The path is handed to the target's dlopen and probe as is.
bool same_file_in_target(int pid, const std::string& path) {
  struct stat here {
  }, there{};
  if (::stat(path.c_str(), &here) != 0) return false;
  if (::stat(("/proc/" + std::to_string(pid) + "/root" + path).c_str(), &there) != 0) return false;
  return here.st_dev == there.st_dev && here.st_ino == there.st_ino;
}

// The user the target runs as now (its effective ids), for its snapshot directory.
RunAs target_user(const ProcessView& v) {
  RunAs who;
  who.known = true;
  who.uid = v.status.uid[1];
  std::ifstream in("/proc/" + std::to_string(v.pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Gid:", 0) == 0) {
      std::istringstream f(line.substr(4));
      gid_t real = 0, effective = 0;
      f >> real >> effective;
      who.gid = effective;
    }
  }
  if (const passwd* pw = ::getpwuid(who.uid)) {
    who.name = pw->pw_name;
  } else {
    who.name = std::to_string(who.uid);
  }
  who.why = "the user pid " + std::to_string(v.pid) + " runs as";
  return who;
}

std::string comm_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string c;
  std::getline(in, c);
  return c;
}

}  // namespace

AttachCommand::AttachCommand(CLI::App& app) {
  attach_ = app.add_subcommand(
      "attach",
      "Load the probe into the running process PID and start recording there: no restart, "
      "same pid, no gdb");
  attach_->add_option("pid", pid_text_, "Process id")->required();
  attach_->add_option("-o,--output", output_dir_,
                      "Directory for its snapshots, as the process sees it; created (0700) for the "
                      "process's user if missing [default: its working directory]");
  attach_->add_option("--sample-bytes", sample_bytes_,
                      "Record a sample: about one allocation per N bytes allocated [default: "
                      "exact]");
  attach_
      ->add_option("--timeout", timeout_seconds_,
                   "Longest wait for one step (a thread to stop, the loader or the probe's "
                   "setup to return) before everything is put back [default: 20]")
      ->check(CLI::Range(0.1, 3600.0));
  attach_->add_flag("--check", check_only_,
                    "Only run the checks: exit 0 if PID could be attached, 1 with the reason if "
                    "not; nothing is done to the process");
  attach_->footer(
      "What it does: holds every thread with ptrace for a moment (no signal is sent), waits "
      "until none is inside malloc or the dynamic loader, makes one thread call "
      "dlopen(libleakprobe.so) and leakprobe_attach(), puts that thread's registers and stack "
      "back, and lets all go; system calls they were waiting in resume. On any failure or "
      "timeout everything is put back and the process runs on unchanged. It cannot see blocks "
      "allocated before the attach, nor calls through function pointers taken before it. "
      "`leakprobe detach PID` undoes it. Needs the process's user with ptrace allowed "
      "(kernel.yama.ptrace_scope), or root. x86_64 only. See docs/guide.md.");

  detach_ = app.add_subcommand(
      "detach",
      "Stop recording in a process the probe was attached to and put its calls back (through "
      "the probe's control socket; ptrace without one); the probe stays mapped, dormant, and "
      "can be attached again");
  detach_->add_option("pid", pid_text_, "Process id")->required();
  detach_
      ->add_option("--timeout", timeout_seconds_,
                   "Longest wait for one step before everything is put back [default: 20]")
      ->check(CLI::Range(0.1, 3600.0));
}

int AttachCommand::run() const { return *attach_ ? attach() : detach(); }

namespace {
InjectOptions inject_options(double timeout_seconds) {
  InjectOptions o;
  o.call_timeout = std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
  o.stop_timeout = std::min(o.call_timeout, std::chrono::milliseconds(2000));
  return o;
}

// The one line a failed attach or detach prints: why, then what became of the process.
void say_failed(const char* command, const InjectResult& r) {
  std::cerr << "leakprobe " << command << ": " << r.message;
  if (r.left_running)
    std::cerr << "; the other threads run on, and that call may still " << command
              << " the probe when it finishes";
  else if (r.message.find("nothing was done") == std::string::npos)
    std::cerr << "; the process was put back as it was";
  std::cerr << "\n";
}
}  // namespace

int AttachCommand::attach() const {
  const int pid = parse_pid_text(pid_text_);
  if (pid <= 0) {
    std::cerr << "leakprobe attach: '" << pid_text_ << "' is not a process id\n";
    return 2;
  }
  uint64_t sample_bytes = 0;
  if (!sample_bytes_.empty()) {
    const auto& s = settings::setting(settings::kSampleBytes);
    const auto verdict = settings::parse_setting(s, sample_bytes_.c_str(), &sample_bytes);
    if (verdict != settings::Verdict::kOk) {
      char why[160];
      settings::describe_refusal(s, verdict, why, sizeof(why));
      std::cerr << "leakprobe attach: --sample-bytes: " << sample_bytes_ << " " << why << "\n";
      return 2;
    }
  }
  std::string output;
  if (!output_dir_.empty()) {
    std::error_code ec;
    if (fs::exists(output_dir_, ec) && !fs::is_directory(output_dir_, ec)) {
      std::cerr << "leakprobe attach: --output: " << output_dir_ << " is not a directory\n";
      return 2;
    }
    output = fs::absolute(output_dir_, ec).lexically_normal().string();
    if (output.size() > 1 && output.back() == '/') output.pop_back();
  }
  if (pid == ::getpid()) {
    std::cerr << "leakprobe attach: pid " << pid << " is this command itself\n";
    return 1;
  }
  const ProcessView view = read_process_view(pid);
  const Verdict verdict = judge_attach(view);
  if (!verdict.ok) {
    std::cerr << "leakprobe attach: " << verdict.reason << "\n";
    return 1;
  }
  if (check_only_) {
    std::cout << "pid " << pid << ": every check passed; nothing was done to it\n";
    return 0;
  }
#if !defined(__x86_64__)
  std::cerr << "leakprobe attach: loading the probe into a running process is built for x86_64 "
               "only; start the program with `leakprobe run` instead\n";
  return 1;
#else
  const std::string library = find_probe_library(self_exe_path());
  if (library.empty()) {
    std::cerr << "leakprobe attach: cannot find libleakprobe.so; set LEAKPROBE_LIBRARY to its "
                 "path\n";
    return 1;
  }
  const std::string p = "pid " + std::to_string(pid);
  if (const std::string mapped = mapped_probe(view); !mapped.empty() && mapped != library) {
    std::cerr << "leakprobe attach: " << p << " has another copy of the probe loaded (" << mapped
              << ", not " << library
              << "): use the leakprobe that attached it, or LEAKPROBE_LIBRARY=" << mapped << "\n";
    return 1;
  }
  if (!same_file_in_target(pid, library)) {
    std::cerr << "leakprobe attach: " << p << " does not see " << library
              << " at that path (another mount namespace, e.g. a container): install leakprobe "
                 "inside it, or attach from there\n";
    return 1;
  }
  if (output.empty()) {
    std::error_code ec;
    output = fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec).string();
    if (output.empty() || output.find(" (deleted)") != std::string::npos) {
      std::cerr << "leakprobe attach: cannot tell the working directory of " << p
                << ": give --output DIR\n";
      return 1;
    }
  }
  // A missing directory is created for the process's user (0700), as `leakprobe run` does.
  const RunAs who = target_user(view);
  if (std::string error = prepare_output_dir(output, who); !error.empty()) {
    // Its advice names `run`'s --output-owner, which attach has no use for: the owner is the
    // process's user.
    const std::string run_only = ", or choose the owner with --output-owner USER";
    if (const auto at = error.find(run_only); at != std::string::npos)
      error.erase(at, run_only.size());
    std::cerr << "leakprobe attach: " << error
              << (output_dir_.empty() ? " (give --output DIR)" : "") << "\n";
    return 1;
  }
  if (!same_file_in_target(pid, output)) {
    std::cerr << "leakprobe attach: " << p << " does not see " << output
              << " at that path (another mount namespace): give --output a directory it sees\n";
    return 1;
  }
  std::string config =
      std::string(settings::setting(settings::kOutputDir).name) + "=" + output + "\n";
  if (sample_bytes)
    config += std::string(settings::setting(settings::kSampleBytes).name) + "=" +
              std::to_string(sample_bytes) + "\n";

  const InjectResult result = inject_attach(pid, library, config, inject_options(timeout_seconds_));
  if (!result.ok) {
    say_failed("attach", result);
    return 1;
  }
  if (result.probe_code == -EEXIST) {
    std::cerr << "leakprobe attach: " << p << " has the probe preloaded: `leakprobe enable " << pid
              << "` starts recording there\n";
    return 1;
  }
  if (result.probe_code == -EALREADY || result.probe_code == -EBUSY) {
    std::cerr << "leakprobe attach: " << p << " is already recording (attached earlier): "
              << "`leakprobe snapshot " << pid << "` takes a snapshot, `leakprobe detach " << pid
              << "` undoes the attach\n";
    return 1;
  }
  if (result.probe_code != 0) {
    std::cerr << "leakprobe attach: the probe loaded in " << p << " refused to start ("
              << std::strerror(-result.probe_code)
              << "; the process's stderr says why); it stays there, dormant\n";
    return 1;
  }
  std::cout << "attached to " << p << " (" << comm_of(pid) << "): recording "
            << (sample_bytes ? "a sample (about one allocation per " +
                                   std::to_string(sample_bytes) + " bytes)"
                             : std::string("every allocation"))
            << " from now on; snapshots go to " << output << "; `leakprobe snapshot " << pid
            << "` takes one, `leakprobe detach " << pid << "` undoes the attach\n";
  return 0;
#endif
}

int AttachCommand::detach() const {
  const int pid = parse_pid_text(pid_text_);
  if (pid <= 0) {
    std::cerr << "leakprobe detach: '" << pid_text_ << "' is not a process id\n";
    return 2;
  }
  if (!fs::exists("/proc/" + std::to_string(pid) + "/status")) {
    std::cerr << "leakprobe detach: no process with pid " << pid << "\n";
    return 1;
  }
  const ProcessView view = read_process_view(pid);
  if (!view.maps_readable) {
    std::cerr << "leakprobe detach: cannot read /proc/" << pid
              << "/maps: run it as the process's user or as root\n";
    return 1;
  }
  const std::string mapped = mapped_probe(view);
  if (mapped.empty()) {
    std::cerr << "leakprobe detach: pid " << pid << " has no probe loaded: nothing to detach\n";
    return 1;
  }
  if (view.probe_preloaded) {
    std::cerr << "leakprobe detach: pid " << pid
              << " was started with the probe preloaded, not attached, so it stays; "
                 "`leakprobe disable "
              << pid << "` stops recording\n";
    return 1;
  }
  // The probe's own control socket first: the probe puts its calls back from its own thread,
  // and nothing is stopped at all. Without a socket (LEAKPROBE_CONTROL=0, or a probe older than
  // the request), the same through ptrace: one remote call of leakprobe_detach().
  const auto timeout = std::chrono::milliseconds(static_cast<long>(timeout_seconds_ * 1000));
  const ControlReply reply = control_request(pid, format::kControlRequestDetach, timeout);
  if (reply.ok) {
    std::string calls;
    if (const auto at = reply.text.find("restored="); at != std::string::npos)
      calls =
          " (" + reply.text.substr(at + 9, reply.text.find(' ', at) - at - 9) + " calls put back)";
    std::cout << "detached from pid " << pid << calls
              << ": every call is back as it was; the probe stays mapped, dormant; `leakprobe "
                 "attach "
              << pid << "` attaches it again\n";
    return 0;
  }
  if (reply.refused && reply.error.find("unknown request") == std::string::npos) {
    std::cerr << "leakprobe detach: the probe in pid " << pid << " refused: " << reply.error
              << "\n";
    return 1;
  }
#if !defined(__x86_64__)
  std::cerr << "leakprobe detach: the probe in pid " << pid
            << " has no control socket, and detaching through ptrace is built for x86_64 only\n";
  return 1;
#else
  // The same refusals as attach where they apply: another tracer, seccomp, permissions.
  const Verdict verdict = judge_attach(view);
  if (!verdict.ok) {
    std::cerr << "leakprobe detach: " << verdict.reason << "\n";
    return 1;
  }
  const InjectResult result = inject_detach(pid, mapped, inject_options(timeout_seconds_));
  if (!result.ok) {
    say_failed("detach", result);
    return 1;
  }
  if (result.probe_code != 0) {
    std::cerr << "leakprobe detach: the probe in pid " << pid << " refused ("
              << std::strerror(-result.probe_code) << ")\n";
    return 1;
  }
  std::cout << "detached from pid " << pid
            << ": every call is back as it was; the probe stays mapped, dormant; `leakprobe "
               "attach "
            << pid << "` attaches it again\n";
  return 0;
#endif
}

}  // namespace leakprobe::cli
