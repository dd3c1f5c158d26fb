#include "leakprobe/cli/launcher.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
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

std::string prepare_output_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot create output directory " + dir + ": " + ec.message();
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return "output directory " + dir + " is not writable: " + std::strerror(errno);
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
