// The probe's start-up, shared by the two ways it starts: preloaded (its constructor, before
// main) and attached (leakprobe_attach, in a process that is already running).
#pragma once

#include "options.h"

namespace leakprobe {

enum class StartMode { kPreload, kAttach };

// Everything after the settings: resource tables, memory census, tracker, fork handlers,
// writer thread and control socket, the exit snapshot. False (after one stderr line) if the
// tracker could not be set up: the host runs on untouched.
bool start_probe_parts(const Settings& settings, StartMode how);

// The one start-up line ("profiling pid N, snapshots in DIR (signal S, control socket @X)").
// `attached`: the line's opening words instead of "profiling pid ".
void announce_start(const Settings& settings, const char* attached);

// One stderr line per line of `warnings` (Settings::warnings).
void print_warnings(const char* warnings);

}  // namespace leakprobe
