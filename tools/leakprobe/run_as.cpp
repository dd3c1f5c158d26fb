#include "leakprobe/cli/run_as.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace leakprobe::cli {
namespace fs = std::filesystem;

namespace {

bool user_by_name(const std::string& name, RunAs& out) {
  const passwd* pw = ::getpwnam(name.c_str());
  if (!pw) return false;
  out.known = true;
  out.uid = pw->pw_uid;
  out.gid = pw->pw_gid;
  out.name = pw->pw_name;
  return true;
}

RunAs user_by_uid(uid_t uid) {
  RunAs r;
  r.known = true;
  r.uid = uid;
  if (const passwd* pw = ::getpwuid(uid)) {
    r.gid = pw->pw_gid;
    r.name = pw->pw_name;
  } else {
    r.gid = ::getegid();
    r.name = std::to_string(uid);
  }
  return r;
}

// One configuration file's `user` and `include_dir` lines, in order; `user` is what the last
// one says so far.
void read_mosquitto_config(const fs::path& path, std::string& user, std::string& error, int depth) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path.string();
    return;
  }
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    if (!(words >> key) || key[0] == '#') continue;
    if (!(words >> value)) continue;
    if (key == "user") {
      user = value;
    } else if (key == "include_dir" && depth == 0) {  // mosquitto does not nest includes
      std::vector<fs::path> files;
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(value, ec)) {
        if (e.path().extension() == ".conf") files.push_back(e.path());
      }
      if (ec) {
        error = "cannot read include_dir " + value + ": " + ec.message();
        continue;
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) read_mosquitto_config(f, user, error, depth + 1);
    }
  }
}

// The configuration file of a mosquitto command line (-c FILE, --config-file FILE), or "".
std::string mosquitto_config_path(const std::vector<std::string>& command) {
  for (size_t i = 1; i + 1 < command.size(); ++i) {
    if (command[i] == "-c" || command[i] == "--config-file") return command[i + 1];
  }
  return {};
}

}  // namespace

RunAs owner_from_option(const std::string& user, std::string& error) {
  RunAs r;
  const bool numeric =
      !user.empty() && user.size() < 10 && std::all_of(user.begin(), user.end(), ::isdigit);
  if (!user_by_name(user, r)) {
    if (!numeric) {
      error = "--output-owner: no user named " + user;
      return {};
    }
    r = user_by_uid(static_cast<uid_t>(std::stoul(user)));
  }
  r.why = "--output-owner";
  return r;
}

std::string mosquitto_config_user(const std::string& config_path, std::string& error) {
  std::string user;
  read_mosquitto_config(config_path, user, error, 0);
  return user;
}

RunAs predict_run_as(const std::vector<std::string>& command, uid_t euid) {
  if (euid != 0) {
    RunAs r = user_by_uid(euid);
    r.why = "the user leakprobe runs as";
    return r;
  }
  if (command.empty() || fs::path(command[0]).filename() != "mosquitto") return {};
  // mosquitto, started as root, switches to its configured user (mosquitto's
  // mosquitto__drop_privileges); `user root` keeps it root.
  const std::string config = mosquitto_config_path(command);
  std::string error, user;
  if (!config.empty()) {
    user = mosquitto_config_user(config, error);
    if (!error.empty()) return {};  // mosquitto will say what is wrong with its file
  }
  RunAs r;
  if (!user.empty()) {
    if (!user_by_name(user, r)) return {};  // mosquitto refuses to start then
    r.why = "the `user " + user + "` line of " + config;
    return r;
  }
  // The default user, or `nobody` when Debian's `mosquitto` user does not exist.
  if (!user_by_name("mosquitto", r) && !user_by_name("nobody", r)) return {};
  r.why = "mosquitto's default user (" +
          (config.empty() ? std::string("no -c configuration") : config + " has no `user` line") +
          (r.name == "nobody" ? "; there is no `mosquitto` user here" : "") + ")";
  return r;
}

}  // namespace leakprobe::cli
