#include "leakprobe/cli/launcher.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace leakprobe::cli {
namespace fs = std::filesystem;

std::string find_probe_library(const std::string& self_exe) {
  std::vector<fs::path> candidates;
  if (const char* env = ::getenv("LEAKPROBE_LIBRARY"); env && *env) {
    // An explicit choice is never silently replaced by another copy of the library.
    std::error_code ec;
    return fs::is_regular_file(env, ec) ? fs::weakly_canonical(env, ec).string() : std::string();
  }
  const fs::path bin_dir = fs::path(self_exe).parent_path();
  candidates.push_back(bin_dir / "../lib/leakprobe/libleakprobe.so");
  candidates.push_back(bin_dir / "../lib/libleakprobe.so");
#ifdef LEAKPROBE_BUILD_TREE_LIBRARY
  candidates.emplace_back(LEAKPROBE_BUILD_TREE_LIBRARY);
#endif
  for (const auto& c : candidates) {
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
