#include "leakprobe/cli/process_list.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "leakprobe/cli/control_client.h"

namespace leakprobe::cli {
namespace fs = std::filesystem;

std::vector<ProbedProcess> list_probed_processes() {
  std::vector<ProbedProcess> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const int pid = std::stoi(name);
    if (probe_status(pid) != ProbeStatus::kLoaded) continue;
    std::error_code link_ec;
    const auto exe = fs::read_symlink(entry.path() / "exe", link_ec);
    found.push_back({pid, link_ec ? std::string("?") : exe.string()});
  }
  std::sort(found.begin(), found.end(),
            [](const ProbedProcess& a, const ProbedProcess& b) { return a.pid < b.pid; });
  return found;
}

}  // namespace leakprobe::cli
