// When the interposers tell the resource table anything. Creations are recorded only while
// the probe is recording (not while dormant, LEAKPROBE_ENABLED=0 / `leakprobe disable`);
// releases always, so that what was recorded before a disable never stays live. Neither in
// a vfork child: it runs in the parent's memory with a descriptor table of its own.
#pragma once

#include "resource_table.h"
#include "tracker.h"
#include "vfork_child.h"

namespace leakprobe {

inline ResourceTable* resources_for_release() {
  ResourceTable* r = resources();
  return r && !in_vfork_child() ? r : nullptr;
}

inline ResourceTable* resources_for_create() {
  ResourceTable* r = resources_for_release();
  if (!r) return nullptr;
  Tracker* t = tracker();
  return !t || t->recording() ? r : nullptr;
}

}  // namespace leakprobe
