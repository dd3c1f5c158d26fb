// Which user the profiled program will run as, so that `leakprobe run` can give it a snapshot
// directory it can still write after it switches user (Debian's mosquitto, started as root,
// drops to the `mosquitto` user unless its configuration says `user root`).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace leakprobe::cli {

struct RunAs {
  bool known = false;  // false: a program started as root that may switch to anyone
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;  // the user's name ("mosquitto"), or the number if it has none
  std::string why;   // for messages: "the `user` line of /etc/mosquitto/mosquitto.conf"
};

// --output-owner USER: a user name or a numeric uid. Sets `error` if there is no such user.
RunAs owner_from_option(const std::string& user, std::string& error);

// The user `command` will run as when started by `euid`. Not root: that user (a program
// cannot switch away from it on its own). Root: the rule of a known program, else unknown.
// Known programs: mosquitto, whose `user` option (default `mosquitto`, or `nobody` if that
// user does not exist) it switches to when started as root.
RunAs predict_run_as(const std::vector<std::string>& command, uid_t euid);

// The last `user` line of a mosquitto configuration file, following its `include_dir` lines
// (the *.conf files in the directory, in name order, as mosquitto reads them). Empty if there
// is none; `error` is set if a file cannot be read.
std::string mosquitto_config_user(const std::string& config_path, std::string& error);

}  // namespace leakprobe::cli
