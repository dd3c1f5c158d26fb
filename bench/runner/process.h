// Starting, watching and stopping the processes the benchmark measures.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bench {

struct SpawnSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env_set;  // added to (or replacing) our environment
  // e.g. LD_PRELOAD, so nothing leaks in from us; "PREFIX*" removes every variable so named
  std::vector<std::string> env_unset;
  std::string cwd;
  std::string stdout_path;  // both default to /dev/null
  std::string stderr_path;
};

// Makes SIGINT/SIGTERM/SIGHUP kill every process group spawn() started and not yet reaped,
// then exit. Call once at start.
void install_cleanup_on_signals();

// Starts the process in its own process group (so the whole tree, e.g. heaptrack's shell, its
// interpreter and zstd, can be stopped at once). Returns the pid, or nullopt with `error` set.
std::optional<pid_t> spawn(const SpawnSpec& spec, std::string& error);

struct ExitInfo {
  bool exited = false;  // false: still running at the deadline, then killed
  int exit_code = -1;   // when exited normally
  int signal = 0;       // when killed by a signal
};

// Waits for `pid` until `timeout`; on timeout kills its process group (SIGTERM, then SIGKILL)
// and reaps it, so no benchmark process outlives the runner.
ExitInfo wait_or_kill(pid_t pid, std::chrono::milliseconds timeout);

// The first descendant of `root` (including root) whose /proc comm is `comm`.
std::optional<pid_t> find_descendant(pid_t root, const std::string& comm);

// True once something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(int port);

// A loopback port that was free a moment ago (the kernel picks it; the race until the broker
// binds it is accepted, and a failed broker start is reported, not ignored).
std::optional<int> pick_free_port();

std::string read_file(const std::string& path);

}  // namespace bench
