// Finding the processes that run the probe, e.g. the daemon child of `mosquitto -d`.
#pragma once

#include <string>
#include <vector>

namespace leakprobe::cli {

struct ProbedProcess {
  int pid = 0;
  std::string exe;
};

std::vector<ProbedProcess> list_probed_processes();

}  // namespace leakprobe::cli
