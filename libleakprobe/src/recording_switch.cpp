#include "recording_switch.h"

#include <cstdio>

#include "memory_census.h"
#include "tracker.h"

namespace leakprobe {

bool recording_switch(bool on, char* reply, size_t size) {
  Tracker* t = tracker();
  if (!t) {
    snprintf(reply, size, "the probe is not running");
    return false;
  }
  if (!t->active()) {
    // fail() stepped aside for good: its tables are full or unmappable; recording again
    // would only fail again.
    snprintf(reply, size, "the probe stopped after an error (see the program's stderr)");
    return false;
  }
  if (on) memory_note_recording_started();  // on this (the writer's) thread, not in malloc
  const bool was = t->set_recording(on);
  snprintf(reply, size, "%s %s", on ? "recording" : "dormant", was ? "on" : "off");
  return true;
}

bool recording_status(char* reply, size_t size) {
  const Tracker* t = tracker();
  if (!t) {
    snprintf(reply, size, "the probe is not running");
    return false;
  }
  const char* state = !t->active() ? "failed" : t->recording() ? "recording" : "dormant";
  const unsigned long long sample = t->options().sample_bytes;
  if (sample) {
    snprintf(reply, size, "%s sampled=%llu", state, sample);
  } else {
    snprintf(reply, size, "%s exact", state);
  }
  return true;
}

}  // namespace leakprobe
