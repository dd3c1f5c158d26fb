#include "leakprobe/cli/process_list.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "leakprobe/cli/control_client.h"
#include "leakprobe/cli/control_socket_lookup.h"

namespace leakprobe::cli {
namespace fs = std::filesystem;

std::vector<ProbedProcess> list_probed_processes() {
  std::set<int> pids;
  // Probes that answer on a control socket: their holders, as the kernel names them. This
  // finds the broker that dropped to its own user, whose /proc/PID/maps that user cannot read.
  for (const auto& socket : listening_control_sockets()) {
    if (const int pid = verified_holder(socket); pid > 0) pids.insert(pid);
  }
  // Probes without a socket (LEAKPROBE_CONTROL=0, or it could not be opened) that this user
  // may look into.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.size() > 9 || !std::all_of(name.begin(), name.end(), ::isdigit)) {
      continue;
    }
    const int pid = std::stoi(name);
    if (!pids.count(pid) && probe_status(pid) == ProbeStatus::kLoaded) pids.insert(pid);
  }
  std::vector<ProbedProcess> found;
  for (const int pid : pids) {
    const std::string proc = "/proc/" + std::to_string(pid);
    std::error_code link_ec;
    const auto exe = fs::read_symlink(proc + "/exe", link_ec);
    std::string program = exe.string();
    if (link_ec) {
      // Another user's process that dropped root hides exe; its command line is public.
      std::ifstream cmdline(proc + "/cmdline");
      if (!std::getline(cmdline, program, '\0') || program.empty()) program = "?";
    }
    found.push_back({pid, program});
  }
  return found;
}

}  // namespace leakprobe::cli
