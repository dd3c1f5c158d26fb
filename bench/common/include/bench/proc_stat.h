// What the benchmark reads about other processes from /proc: CPU time and peak RSS.
#pragma once

#include <dirent.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace bench {

struct ProcessCpu {
  pid_t pgrp = 0;
  unsigned long long ticks = 0;           // utime + stime
  unsigned long long children_ticks = 0;  // cutime + cstime: children it has waited for
};

inline std::optional<ProcessCpu> process_cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  // The command name (field 2) may contain spaces and ')', so fields are counted after the
  // last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  ProcessCpu cpu;
  // After ')': field 3 (state) is index 0, so pgrp (field 5) is index 2, utime (field 14)
  // index 11, stime 12, cutime 13, cstime 14.
  for (int i = 0; i <= 14 && fields >> field; ++i) {
    if (i == 2) cpu.pgrp = static_cast<pid_t>(std::stol(field));
    if (i == 11 || i == 12) cpu.ticks += std::stoull(field);
    if (i == 13 || i == 14) cpu.children_ticks += std::stoull(field);
  }
  if (!fields) return std::nullopt;
  return cpu;
}

// utime + stime of `pid` in seconds (resolution: one clock tick, usually 10 ms).
inline std::optional<double> process_cpu_seconds(pid_t pid) {
  auto cpu = process_cpu_ticks(pid);
  if (!cpu) return std::nullopt;
  return static_cast<double>(cpu->ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU of every process in process group `pgid`, in seconds: a profiled broker together with
// the profiler's helpers (heaptrack's shell, heaptrack_interpret, zstd). Children a member has
// reaped count through its cutime/cstime, so a helper that exits mid-phase is not lost once
// its parent waited for it; one that exits unreaped between two readings is (a helper that
// short-lived costs little).
inline std::optional<double> process_group_cpu_seconds(pid_t pgid) {
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return std::nullopt;
  unsigned long long ticks = 0;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    auto cpu = process_cpu_ticks(static_cast<pid_t>(pid));
    if (!cpu || cpu->pgrp != pgid) continue;
    found = true;
    ticks += cpu->ticks + cpu->children_ticks;
  }
  ::closedir(d);
  if (!found) return std::nullopt;
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Run-queue wait of every process in process group `pgid`, in seconds: time its threads were
// runnable but another task had the CPU (/proc/PID/task/TID/schedstat, second field). With
// the CPU time beside it, it tells a broker that waits for work (both small) from one that
// waits for a core (CPU + wait near the phase's length).
inline std::optional<double> process_group_wait_seconds(pid_t pgid) {
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return std::nullopt;
  unsigned long long ns = 0;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    auto cpu = process_cpu_ticks(static_cast<pid_t>(pid));
    if (!cpu || cpu->pgrp != pgid) continue;
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    DIR* t = ::opendir(tasks.c_str());
    if (t == nullptr) continue;
    while (dirent* te = ::readdir(t)) {
      if (te->d_name[0] == '.') continue;
      std::ifstream in(tasks + "/" + te->d_name + "/schedstat");
      unsigned long long on_cpu = 0, waited = 0;
      if (in >> on_cpu >> waited) {
        ns += waited;
        found = true;
      }
    }
    ::closedir(t);
  }
  ::closedir(d);
  if (!found) return std::nullopt;
  return static_cast<double>(ns) / 1e9;
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
