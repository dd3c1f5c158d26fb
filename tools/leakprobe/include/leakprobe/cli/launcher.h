// `leakprobe run`: start a command with the probe preloaded and its settings in the environment.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "leakprobe/cli/run_as.h"

namespace leakprobe::cli {

struct RunSettings {
  std::string output_dir;  // made absolute and created (mode 0700) before the exec
  // LEAKPROBE_* name -> value, already checked with leakprobe::settings::parse_setting.
  std::map<std::string, std::string> probe_settings;
  std::vector<std::string> command;  // argv of the program to profile
};

// Where libleakprobe.so may be, in order, for the leakprobe executable at `self_exe`: the
// library of the install layout it was built for (relative to its own directory, e.g.
// ../lib/x86_64-linux-gnu/libleakprobe.so), then, only if `self_exe` lies in the build tree,
// the build tree's library.
std::vector<std::string> probe_library_candidates(const std::string& self_exe);

// Locates libleakprobe.so: $LEAKPROBE_LIBRARY if set (nothing else then), else the first
// candidate that exists. Empty if none exists.
std::string find_probe_library(const std::string& self_exe);

// The environment additions for `settings`: LD_PRELOAD gets the probe prepended (keeping what
// the user already preloads), LEAKPROBE_* carry the settings.
std::map<std::string, std::string> probe_environment(const RunSettings& settings,
                                                     const std::string& library,
                                                     const char* existing_ld_preload);

// Creates the output directory if it is missing: mode 0700, owned by `owner` when that user is
// known (the user the program will run as, see run_as.h), else by this user. Then checks that
// `owner` (this user when unknown) can create files in it, through every parent: an existing
// directory's owner and mode are left as they are. Empty on success, else a message for the
// user that says what to do.
std::string prepare_output_dir(const std::string& dir, const RunAs& owner);

// Replaces this process with the command, so the profiled program keeps our pid (and
// `leakprobe snapshot $!` works on what the shell started). Returns only on failure, with a
// message; errno is left as execvp set it.
std::string exec_with_probe(const RunSettings& settings, const std::string& library);

}  // namespace leakprobe::cli
