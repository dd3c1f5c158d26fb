#include "process.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace bench {
namespace {

// Process groups started and not yet reaped, so that a runner stopped by a signal (Ctrl-C,
// a CTest timeout) takes its brokers and workloads with it instead of leaving them running.
constexpr int kMaxGroups = 16;
std::atomic<pid_t> g_groups[kMaxGroups];

void remember_group(pid_t pgid) {
  for (auto& g : g_groups) {
    pid_t empty = 0;
    if (g.compare_exchange_strong(empty, pgid)) return;
  }
}

void forget_group(pid_t pgid) {
  for (auto& g : g_groups) {
    pid_t expected = pgid;
    g.compare_exchange_strong(expected, 0);
  }
}

extern "C" void kill_groups_and_exit(int sig) {
  for (auto& g : g_groups) {
    const pid_t pgid = g.load();
    if (pgid > 0) ::kill(-pgid, SIGKILL);
  }
  ::_exit(128 + sig);
}

}  // namespace

void install_cleanup_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = kill_groups_and_exit;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

std::optional<pid_t> spawn(const SpawnSpec& spec, std::string& error) {
  if (spec.argv.empty()) {
    error = "empty command";
    return std::nullopt;
  }
  // Everything the child needs is prepared before fork: after fork in a threaded parent only
  // async-signal-safe calls are allowed.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq != nullptr) env[std::string(*e, static_cast<size_t>(eq - *e))] = eq + 1;
  }
  for (const auto& k : spec.env_unset) {
    if (k.empty() || k.back() != '*') {
      env.erase(k);
      continue;
    }
    const std::string prefix = k.substr(0, k.size() - 1);
    for (auto it = env.begin(); it != env.end();)
      it = it->first.rfind(prefix, 0) == 0 ? env.erase(it) : std::next(it);
  }
  for (const auto& [k, v] : spec.env_set) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  const std::string out = spec.stdout_path.empty() ? "/dev/null" : spec.stdout_path;
  const std::string err = spec.stderr_path.empty() ? "/dev/null" : spec.stderr_path;

  int pipefd[2];  // reports exec failure (errno) to the parent; closed on successful exec
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    // If the runner is killed outright (SIGKILL), its direct children still go with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int e = 0;
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int r = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || r < 0 || ::dup2(o, 1) < 0 || ::dup2(r, 2) < 0 ||
        (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0)) {
      e = errno;
    } else {
      ::execvpe(argv[0], argv.data(), envp.data());
      e = errno;
    }
    (void)!::write(pipefd[1], &e, sizeof e);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so a kill right after spawn hits the group
  remember_group(pid);
  ::close(pipefd[1]);
  int child_errno = 0;
  const ssize_t n = ::read(pipefd[0], &child_errno, sizeof child_errno);
  ::close(pipefd[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    ::waitpid(pid, nullptr, 0);
    forget_group(pid);
    error = "cannot start " + spec.argv[0] + ": " + std::strerror(child_errno);
    return std::nullopt;
  }
  return pid;
}

ExitInfo wait_or_kill(pid_t pid, std::chrono::milliseconds timeout) {
  ExitInfo info;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      info.exited = true;
      if (WIFEXITED(status)) info.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) info.signal = WTERMSIG(status);
      break;
    }
    if (r < 0 && errno != EINTR) break;  // not our child any more: nothing to wait for
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGTERM);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Whatever the group left behind (heaptrack's interpreter, say) does not outlive the run.
  ::kill(-pid, SIGKILL);
  forget_group(pid);
  return info;
}

namespace {

std::optional<pid_t> parent_of(pid_t pid, std::string& comm) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return std::nullopt;
  comm = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 1));
  std::string state;
  pid_t ppid = 0;
  if (!(rest >> state >> ppid)) return std::nullopt;
  return ppid;
}

}  // namespace

std::optional<pid_t> find_descendant(pid_t root, const std::string& comm) {
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return std::nullopt;
  std::map<pid_t, std::pair<pid_t, std::string>> procs;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    std::string name;
    if (auto ppid = parent_of(static_cast<pid_t>(pid), name))
      procs[static_cast<pid_t>(pid)] = {*ppid, name};
  }
  ::closedir(d);
  for (const auto& [pid, info] : procs) {
    if (info.second != comm) continue;
    // Walk up (bounded: pid chains are short) to see whether root is an ancestor.
    pid_t p = pid;
    for (int hops = 0; hops < 64 && p > 1; ++hops) {
      if (p == root) return pid;
      auto it = procs.find(p);
      if (it == procs.end()) break;
      p = it->second.first;
    }
  }
  return std::nullopt;
}

bool port_accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::optional<int> pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  std::optional<int> port;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace bench
