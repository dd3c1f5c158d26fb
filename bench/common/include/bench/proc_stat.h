// What the benchmark reads about another process from /proc: CPU time and peak RSS.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace bench {

// utime + stime of `pid` in seconds (resolution: one clock tick, usually 10 ms).
inline std::optional<double> process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  // The command name (field 2) may contain spaces and ')', so fields are counted after the
  // last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After ')': field 3 (state) is index 0, so utime (field 14) is index 11, stime index 12.
  for (int i = 0; i <= 12 && fields >> field; ++i) {
    if (i == 11) utime = std::stoull(field);
    if (i == 12) stime = std::stoull(field);
  }
  if (!fields) return std::nullopt;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A "Vm...:  N kB" value from /proc/PID/status, e.g. "VmHWM" (peak RSS).
inline std::optional<long long> process_status_kb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size() + 1, key + ":") == 0) {
      std::istringstream value(line.substr(key.size() + 1));
      long long kb = 0;
      if (value >> kb) return kb;
    }
  }
  return std::nullopt;
}

}  // namespace bench
