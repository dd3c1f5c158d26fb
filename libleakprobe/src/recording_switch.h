// Recording on and off in the running process, as the control socket's "enable", "disable"
// and "status" requests see it (`leakprobe enable|disable|list`). The switch itself is the
// tracker's (Tracker::set_recording); this file turns it into one reply line, without
// allocating (it runs on the writer thread, inside the host).
#pragma once

#include <cstddef>

namespace leakprobe {

// "enable"/"disable": switches recording and writes "recording <was>" / "dormant <was>"
// (<was>: on|off) into `reply`. False, with the reason in `reply`, if the probe cannot record.
bool recording_switch(bool on, char* reply, size_t size);

// "status": "<state> <mode>", state recording|dormant|failed, mode exact|sampled=<bytes>.
bool recording_status(char* reply, size_t size);

}  // namespace leakprobe
