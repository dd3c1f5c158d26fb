#include "leakprobe/cli/launcher.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace leakprobe::cli {
namespace fs = std::filesystem;

namespace {
// True if `path` lies inside `dir` (both made canonical where they exist).
bool is_inside(const fs::path& path, const fs::path& dir) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(path, ec);
  const fs::path d = fs::weakly_canonical(dir, ec);
  return std::mismatch(d.begin(), d.end(), p.begin(), p.end()).first == d.end();
}
}  // namespace

std::vector<std::string> probe_library_candidates(const std::string& self_exe) {
  std::vector<std::string> candidates;
  // The install layout this leakprobe was configured for, relative to its own directory, so
  // a DESTDIR staging copy or a moved prefix finds the library installed with it.
  const fs::path bin_dir = fs::path(self_exe).parent_path();
  candidates.push_back((bin_dir / LEAKPROBE_LIBRARY_FROM_BINDIR).lexically_normal().string());
#ifdef LEAKPROBE_BUILD_TREE_LIBRARY
  // Only a leakprobe running from its build tree uses the build tree's library: an installed
  // one must never quietly preload a library from wherever it happened to be built.
  if (is_inside(self_exe, LEAKPROBE_BUILD_TREE_DIR))
    candidates.emplace_back(LEAKPROBE_BUILD_TREE_LIBRARY);
#endif
  return candidates;
}

std::string find_probe_library(const std::string& self_exe) {
  if (const char* env = ::getenv("LEAKPROBE_LIBRARY"); env && *env) {
    // An explicit choice is never silently replaced by another copy of the library.
    std::error_code ec;
    return fs::is_regular_file(env, ec) ? fs::weakly_canonical(env, ec).string() : std::string();
  }
  for (const auto& c : probe_library_candidates(self_exe)) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return fs::weakly_canonical(c, ec).string();
  }
  return {};
}

std::map<std::string, std::string> probe_environment(const RunSettings& settings,
                                                     const std::string& library,
                                                     const char* existing_ld_preload) {
  std::map<std::string, std::string> env;
  std::string preload = library;
  if (existing_ld_preload && *existing_ld_preload) {
    preload += ":";
    preload += existing_ld_preload;
  }
  env["LD_PRELOAD"] = preload;
  env["LEAKPROBE_OUTPUT_DIR"] = settings.output_dir;
  for (const auto& [name, value] : settings.probe_settings) env[name] = value;
  return env;
}

namespace {
// 0 if `who` has `mode` access to `path`, else the errno. Asked in a child that takes on the
// user's identity: the kernel's own answer, with ACLs and supplementary groups, rather than
// our reading of mode bits.
int access_as(const std::string& path, int mode, const RunAs& who) {
  if (who.uid == ::geteuid()) return ::access(path.c_str(), mode) == 0 ? 0 : errno;
  const pid_t child = ::fork();
  if (child < 0) return errno;
  if (child == 0) {
    if (::initgroups(who.name.c_str(), who.gid) != 0) ::setgroups(0, nullptr);
    if (::setgid(who.gid) != 0 || ::setuid(who.uid) != 0) ::_exit(EPERM);
    ::_exit(::access(path.c_str(), mode) == 0 ? 0 : errno);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return errno;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
}

// The outermost directory above `dir` that `who` cannot enter, or "" if it can reach `dir`.
std::string first_unsearchable_parent(const fs::path& dir, const RunAs& who) {
  fs::path prefix;
  for (const auto& part : dir.parent_path()) {
    prefix /= part;
    std::error_code ec;
    if (!fs::exists(prefix, ec)) break;  // created below, searchable unless the umask says no
    if (access_as(prefix.string(), X_OK, who) != 0) return prefix.string();
  }
  return {};
}
}  // namespace

std::string prepare_output_dir(const std::string& dir, const RunAs& owner) {
  std::error_code ec;
  RunAs self;
  self.known = true;
  self.uid = ::geteuid();
  self.gid = ::getegid();
  const RunAs& who = owner.known ? owner : self;
  const bool other_user = who.uid != self.uid;
  // A program that switches user cannot write below a directory it cannot enter: say which
  // one before creating anything.
  if (other_user) {
    if (const std::string blocked = first_unsearchable_parent(dir, who); !blocked.empty()) {
      return "user " + who.name + ", whom the program will run as (" + who.why +
             "), cannot enter " + blocked + ", so it could not write snapshots into " + dir +
             ": choose a directory it can reach (e.g. /var/tmp/leakprobe), or `chmod o+x " +
             blocked + "`";
    }
  }
  if (!fs::exists(dir, ec)) {
    const fs::path parent = fs::path(dir).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec || (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)) {
      return "cannot create output directory " + dir + ": " +
             (ec ? ec.message() : std::string(std::strerror(errno)));
    }
    ::chmod(dir.c_str(), 0700);  // exactly 0700, whatever the umask
    if (other_user && ::chown(dir.c_str(), who.uid, who.gid) != 0) {
      const int err = errno;
      ::rmdir(dir.c_str());
      return "cannot give output directory " + dir + " to user " + who.name + ": " +
             std::strerror(err) + (self.uid != 0 ? " (only root can)" : "");
    }
  } else if (!fs::is_directory(dir, ec)) {
    return "output directory " + dir + " is not a directory";
  }
  if (const int err = access_as(dir, W_OK | X_OK, who); err != 0) {
    if (!other_user) return "output directory " + dir + " is not writable: " + std::strerror(err);
    return "output directory " + dir + " is not writable by user " + who.name + " (" +
           std::strerror(err) + "), whom the program will run as (" + who.why +
           "): name a new directory (leakprobe creates it for that user), `chown " + who.name +
           " " + dir + "`, or choose the owner with --output-owner USER";
  }
  return {};
}

std::string exec_with_probe(const RunSettings& settings, const std::string& library) {
  if (settings.command.empty()) return "no command given after --";
  for (const auto& [key, value] : probe_environment(settings, library, ::getenv("LD_PRELOAD"))) {
    ::setenv(key.c_str(), value.c_str(), 1);
  }
  std::vector<char*> argv;
  for (const auto& arg : settings.command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  const int err = errno;
  std::string message = "cannot run " + settings.command[0] + ": " + std::strerror(err);
  errno = err;
  return message;
}

}  // namespace leakprobe::cli
