#include "attach_step.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <utility>
#include <vector>

#include "process.h"

namespace bench {
namespace {

constexpr auto kCommandTimeout = std::chrono::seconds(60);

std::string one_line(std::string text) {
  if (text.size() > 400) text = text.substr(0, 400) + "...";
  for (char& c : text)
    if (c == '\n' || c == '|') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

struct Command {
  bool ok = false;
  double seconds = 0;
  std::string out, err, error;
};

// Runs `leakprobe <args>` to completion, with the library under test named explicitly (never
// another installed copy) and nothing from our environment in its settings.
Command leakprobe(const Paths& paths, const std::vector<std::string>& args, const std::string& dir,
                  const std::string& tag) {
  Command c;
  SpawnSpec spec;
  spec.argv = {paths.leakprobe_cli};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env_unset = {"LD_PRELOAD", "LEAKPROBE_*"};
  spec.env_set["LEAKPROBE_LIBRARY"] = paths.leakprobe_lib;
  spec.stdout_path = dir + "/" + tag + ".stdout.txt";
  spec.stderr_path = dir + "/" + tag + ".stderr.txt";
  const auto t0 = std::chrono::steady_clock::now();
  const auto pid = spawn(spec, c.error);
  if (!pid) return c;
  const ExitInfo e = wait_or_kill(*pid, kCommandTimeout);
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.out = read_file(spec.stdout_path);
  c.err = read_file(spec.stderr_path);
  c.ok = e.exited && e.exit_code == 0;
  if (!c.ok)
    c.error = "`leakprobe " + args.front() + "` " +
              (!e.exited       ? std::string("timed out and was killed")
               : e.signal != 0 ? "was killed by signal " + std::to_string(e.signal)
                               : "exited " + std::to_string(e.exit_code)) +
              ": " + (c.err.empty() ? std::string("(it said nothing)") : one_line(c.err));
  return c;
}

bool probe_mapped(pid_t pid) {
  return read_file("/proc/" + std::to_string(pid) + "/maps").find("/libleakprobe.so") !=
         std::string::npos;
}

}  // namespace

std::string attach_unavailable(const Paths& paths, const std::string& dir) {
  SpawnSpec sleeper;
  sleeper.argv = {"sleep", "30"};
  std::string error;
  const auto pid = spawn(sleeper, error);
  if (!pid) return "cannot start a process to check attach on: " + error;
  const Command c = leakprobe(paths, {"attach", "--check", std::to_string(*pid)}, dir, "check");
  wait_or_kill(*pid, std::chrono::milliseconds(0));
  return c.ok ? "" : "attach not possible here: " + c.error;
}

AttachStep attach_probe(const Config& config, const Paths& paths, pid_t pid,
                        const std::string& prof, const std::string& dir,
                        const std::string& broker_stderr) {
  AttachStep step;
  const std::string p = std::to_string(pid);
  std::vector<std::string> args = {"attach", "--output", prof};
  if (!config.sample_bytes.empty())
    args.insert(args.end(), {"--sample-bytes", config.sample_bytes});
  args.push_back(p);
  const Command a = leakprobe(paths, args, dir, "attach");
  step.attach_s = a.seconds;
  if (!a.ok) {
    step.error = "attach failed, so nothing was measured: " + a.error;
    return step;
  }
  // The command's word is not taken for it: the library must be in the broker now.
  if (!probe_mapped(pid)) {
    step.error =
        "`leakprobe attach` exited 0, yet libleakprobe.so is not mapped in the broker "
        "(pid " +
        p + "): a plain broker would have been measured in this name";
    return step;
  }
  const std::string log = read_file(broker_stderr);
  if (const auto at = log.find("leakprobe: attached: "); at != std::string::npos)
    step.calls_rewritten = std::atof(log.c_str() + at + 21);
  if (config.attach == Attach::kAttachThenDetach) {
    const Command d = leakprobe(paths, {"detach", p}, dir, "detach");
    step.detach_s = d.seconds;
    if (!d.ok) {
      step.error = "detach failed, so nothing was measured: " + d.error;
      return step;
    }
    if (d.out.find("detached from pid " + p) == std::string::npos) {
      step.error = "`leakprobe detach` exited 0 without saying it detached pid " + p + ": " +
                   one_line(d.out + d.err);
      return step;
    }
    if (!probe_mapped(pid)) {
      step.error = "after `leakprobe detach` libleakprobe.so is no longer mapped in pid " + p +
                   ": not the mapped-but-dormant probe this configuration measures";
      return step;
    }
  }
  step.ok = true;
  return step;
}

SnapshotFacts parse_snapshot_facts(const std::string& text) {
  SnapshotFacts f;
  std::istringstream in(text);
  std::string line, exe;
  std::vector<std::vector<uint64_t>> stacks;
  std::vector<std::pair<uint64_t, uint64_t>> exe_ranges;
  bool in_maps = false;
  while (std::getline(in, line)) {
    if (!f.parsed) {
      long long live_objs = 0, live_bytes = 0, alloc_objs = 0, alloc_bytes = 0;
      char tag[128] = {};
      if (std::sscanf(line.c_str(), "heap profile: %lld: %lld [ %lld: %lld] @ %127s", &live_objs,
                      &live_bytes, &alloc_objs, &alloc_bytes, tag) != 5)
        return f;  // not a heap profile at all
      f.parsed = true;
      f.alloc_objs = alloc_objs;
      f.tag = tag;
      continue;
    }
    if (line.rfind("# leakprobe.exe: ", 0) == 0) {
      exe = line.substr(17);
    } else if (line.rfind("# leakprobe.attached: ", 0) == 0) {
      f.attached = true;
    } else if (line.rfind("# leakprobe.recording: ", 0) == 0) {
      std::istringstream r(line.substr(23));
      std::string since;
      r >> f.recording >> since >> f.recording_since;
    } else if (line == "MAPPED_LIBRARIES:") {
      in_maps = true;
    } else if (in_maps) {
      uint64_t lo = 0, hi = 0;
      const auto slash = line.find(" /");
      if (slash != std::string::npos && line.substr(slash + 1) == exe &&
          std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64, &lo, &hi) == 2)
        exe_ranges.emplace_back(lo, hi);
    } else if (!line.empty() && line[0] != '#') {
      const auto at = line.find(" @ ");
      if (at == std::string::npos) continue;
      std::istringstream frames(line.substr(at + 3));
      std::vector<uint64_t> s;
      std::string a;
      while (frames >> a) s.push_back(std::strtoull(a.c_str(), nullptr, 16));
      stacks.push_back(std::move(s));
    }
  }
  f.stacks = stacks.size();
  for (const auto& s : stacks) {
    bool in_exe = false;
    for (uint64_t a : s)
      for (const auto& [lo, hi] : exe_ranges) in_exe = in_exe || (a >= lo && a < hi);
    if (in_exe) ++f.stacks_in_exe;
  }
  return f;
}

std::string check_snapshot(const Config& config, const SnapshotFacts& f, double load_started_unix) {
  if (!f.parsed) return "the snapshot is not a heap profile";
  if (!f.attached)
    return "the snapshot has no leakprobe.attached line: the probe there was not attached";
  if (config.attach == Attach::kAttachThenDetach) {
    if (f.recording != "off" || f.recording_since > load_started_unix)
      return "the detached probe was not off since before the load (recording: " + f.recording +
             " since " + std::to_string(f.recording_since) + ")";
    return "";
  }
  if (f.recording != "on") return "the attached probe is not recording (" + f.recording + ")";
  const std::string tag =
      config.sample_bytes.empty() ? "heapprofile" : "heap_v2/" + config.sample_bytes;
  if (f.tag != tag) return "the snapshot is a " + f.tag + " profile, not " + tag;
  // Exact: the load's allocations, at the broker's own call sites. (A short sampled run may
  // take no sample at all, so there only the mode is checked.)
  if (config.sample_bytes.empty() && (f.alloc_objs <= 0 || f.stacks_in_exe == 0))
    return "the attached probe recorded " + std::to_string(f.alloc_objs) +
           " allocations and no stack through the broker's own code (" + std::to_string(f.stacks) +
           " stacks)";
  return "";
}

std::string verify_after_load(const Config& config, const Paths& paths, pid_t pid,
                              const std::string& dir, double load_started_unix) {
  const Command s =
      leakprobe(paths, {"snapshot", std::to_string(pid), "--timeout", "20"}, dir, "snapshot");
  if (!s.ok) return "no snapshot from the broker after the load: " + s.error;
  std::string path = s.out;
  while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
  const std::string why =
      check_snapshot(config, parse_snapshot_facts(read_file(path)), load_started_unix);
  return why.empty() ? "" : why + " (" + path + ")";
}

std::string check_exit_snapshot(const Config& config, const std::string& prof,
                                double load_started_unix) {
  std::string last;
  long long best = -1;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(prof, ec)) {
    const std::string n = e.path().filename().string();
    // leakprobe.<pid>.<sequence>.heap
    if (n.rfind("leakprobe.", 0) != 0 || n.size() < 6 || n.substr(n.size() - 5) != ".heap")
      continue;
    const auto dot = n.rfind('.', n.size() - 6);
    const long long seq = std::atoll(n.c_str() + dot + 1);
    if (seq > best) {
      best = seq;
      last = e.path().string();
    }
  }
  if (last.empty())
    return config.attach == Attach::kAttachThenDetach
               ? ""
               : "the attached probe wrote no snapshot at exit into " + prof;
  const std::string why =
      check_snapshot(config, parse_snapshot_facts(read_file(last)), load_started_unix);
  return why.empty() ? "" : why + " (" + last + ")";
}

}  // namespace bench
