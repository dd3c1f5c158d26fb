#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include "leakprobe/snapshot_format.h"

extern char** environ;

namespace probe_test {

namespace {
using Clock = std::chrono::steady_clock;

void drain(int& fd, std::string& into) {
  if (fd < 0) return;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof(buf));
  if (n > 0) {
    into.append(buf, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    close(fd);
    fd = -1;
  }
}
}  // namespace

Child::Child(const std::vector<std::string>& argv, const std::string& dir,
             const std::vector<std::string>& env) {
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    if (strncmp(*e, "LEAKPROBE_", 10) && strncmp(*e, "LD_PRELOAD=", 11)) envs.push_back(*e);
  }
  envs.push_back(std::string("LD_PRELOAD=") + PROBE_LIB);
  envs.push_back("LEAKPROBE_OUTPUT_DIR=" + dir);
  envs.push_back("LEAKPROBE_QUIET=1");
  for (const auto& e : env) envs.push_back(e);
  std::vector<char*> cenv, cargv;
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  std::vector<std::string> args = argv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return;
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);  // so that a timeout kills the program and anything it forked
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  in_ = in[1];
  outfd_ = out[0];
  errfd_ = err[0];
}

Child::~Child() {
  if (!done_ && pid_ > 0) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  for (int fd : {in_, outfd_, errfd_}) {
    if (fd >= 0) close(fd);
  }
}

std::string Child::read_line(int timeout_s) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      out_ += pending_.substr(0, nl + 1);
      pending_.erase(0, nl + 1);
      return line;
    }
    if (outfd_ < 0 || Clock::now() >= deadline) return "";
    pollfd p{outfd_, POLLIN, 0};
    poll(&p, 1, 200);
    if (p.revents) drain(outfd_, pending_);
  }
}

bool Child::write_line(const std::string& line) {
  if (in_ < 0) return false;
  // A child that died must fail the test, not kill the test runner with SIGPIPE.
  static const bool sigpipe_ignored = signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)sigpipe_ignored;
  const std::string text = line + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(in_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

int Child::finish(int timeout_s) {
  if (in_ >= 0) {
    close(in_);
    in_ = -1;
  }
  out_ += pending_;
  pending_.clear();
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while ((outfd_ >= 0 || errfd_ >= 0) && Clock::now() < deadline) {
    pollfd p[2] = {{outfd_, POLLIN, 0}, {errfd_, POLLIN, 0}};
    poll(p, 2, 200);
    if (p[0].revents) drain(outfd_, out_);
    if (p[1].revents) drain(errfd_, err_);
  }
  int status = -1;
  while (Clock::now() < deadline) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      done_ = true;
      return status;
    }
    usleep(20000);
  }
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  done_ = true;
  return -1;
}

bool RunResult::exited_ok() const {
  return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

RunResult run(const std::vector<std::string>& argv, const std::string& dir,
              const std::vector<std::string>& env, int timeout_s) {
  Child c(argv, dir, env);
  RunResult r;
  r.status = c.finish(timeout_s);
  r.out = c.out();
  r.err = c.err();
  return r;
}

std::string make_temp_dir(const std::string& tag) {
  std::string tmpl = "/tmp/probe-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  return mkdtemp(buf.data());
}

void remove_tree(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::vector<std::string> all_files(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> snapshot_files(const std::string& dir, const std::string& pid) {
  std::vector<std::string> out;
  std::string prefix = "leakprobe." + (pid.empty() ? "" : pid + ".");
  for (const auto& n : all_files(dir)) {
    if (n.rfind(prefix, 0) == 0 && n.size() > 5 && n.compare(n.size() - 5, 5, ".heap") == 0)
      out.push_back(dir + "/" + n);
  }
  return out;
}

Snapshot load(const std::string& path) {
  Snapshot s;
  std::string err;
  if (!read_snapshot_file(path, &s, &err)) ADD_FAILURE() << err;
  return s;
}

void Symbolizer::add_module(const std::string& path, const Snapshot& s) {
  std::error_code ec;
  std::string real = std::filesystem::canonical(path, ec).string();
  uint64_t base = 0;
  bool found = false;
  for (const auto& m : s.maps) {
    if ((m.path == real || m.path == path) && m.offset == 0) {
      base = m.start;
      found = true;
      break;
    }
  }
  if (!found) {
    ADD_FAILURE() << path << " is not in the snapshot's maps";
    return;
  }
  std::string cmd = "nm -S --defined-only '" + path + "'";
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  char line[1024];
  while (p && fgets(line, sizeof(line), p.get())) {
    unsigned long long value, size;
    char type;
    char name[512];
    if (sscanf(line, "%llx %llx %c %511s", &value, &size, &type, name) == 4 &&
        (type == 'T' || type == 't')) {
      syms_.push_back({base + value, base + value + size, name});
    }
  }
}

std::string Symbolizer::name_at(uint64_t return_address) const {
  uint64_t a = return_address - 1;  // the call instruction, as pprof does
  for (const auto& s : syms_) {
    if (a >= s.start && a < s.end) return s.name;
  }
  return "";
}

Counts site(const Snapshot& s, const Symbolizer& sym, const std::string& fn, size_t index) {
  Counts c;
  for (const auto& l : s.stacks) {
    if (l.frames.size() <= index || sym.name_at(l.frames[index]) != fn) continue;
    c.live_objs += l.live_objs;
    c.live_bytes += l.live_bytes;
    c.alloc_objs += l.alloc_objs;
    c.alloc_bytes += l.alloc_bytes;
    ++c.lines;
  }
  return c;
}

void expect_well_formed(const Snapshot& s) {
  EXPECT_TRUE(s.has_trailer);
  EXPECT_EQ(s.get("format"), "1");
  EXPECT_EQ(s.get("stacks"), std::to_string(s.stacks.size()));
  int64_t lo = 0, lb = 0;
  uint64_t ao = 0, ab = 0;
  for (const auto& l : s.stacks) {
    EXPECT_GE(l.live_objs, 0);
    EXPECT_LE(static_cast<uint64_t>(l.live_objs), l.alloc_objs);
    EXPECT_FALSE(l.frames.empty());
    lo += l.live_objs;
    lb += l.live_bytes;
    ao += l.alloc_objs;
    ab += l.alloc_bytes;
  }
  EXPECT_EQ(s.live_objs, lo);
  EXPECT_EQ(s.live_bytes, lb);
  EXPECT_EQ(s.alloc_objs, ao);
  EXPECT_EQ(s.alloc_bytes, ab);
  EXPECT_FALSE(s.maps.empty());
}

void TempDirTest::SetUp() { dir_ = make_temp_dir(tag_); }

void TempDirTest::TearDown() {
  if (!HasFailure())
    remove_tree(dir_);
  else
    fprintf(stderr, "kept %s for inspection\n", dir_.c_str());
}

std::string socket_request(const std::string& name, const std::string& request) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path + 1, name.data(), name.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    close(fd);
    return "connect failed";
  }
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string reply;
  char c;
  while (read(fd, &c, 1) == 1) reply += c;
  close(fd);
  return reply;
}

std::string control_socket_name(pid_t pid) {
  // The tests and the programs they start share one pid namespace.
  struct stat ns {};
  stat("/proc/self/ns/pid", &ns);
  char name[96];
  leakprobe::format::control_socket_name(name, sizeof(name), ns.st_ino, pid);
  return name;
}

std::string control_request(pid_t pid, const std::string& request) {
  return socket_request(control_socket_name(pid), request);
}

}  // namespace probe_test
