#include "fork.h"

#include <pthread.h>

#include "guard.h"
#include "resource_table.h"
#include "tracker.h"
#include "walk_cache.h"
#include "writer.h"

namespace leakprobe {
namespace {

// The guard as the forking thread had it: prepare raises it so that an allocation made by
// glibc between prepare and the fork (or by other atfork handlers) cannot try to take a
// shard lock we already hold.
__thread bool t_guard_before_fork __attribute__((tls_model("initial-exec")));

void prepare() {
  t_guard_before_fork = t_in_probe;
  t_in_probe = true;
  if (Tracker* t = tracker()) {
    writer_lock_for_fork();  // first: the writer takes no tracker lock while it holds this
    t->lock_for_fork();
  }
  if (ResourceTable* r = resources()) r->lock_for_fork();
}

void parent() {
  if (ResourceTable* r = resources()) r->unlock_after_fork();
  if (Tracker* t = tracker()) {
    t->unlock_after_fork();
    writer_unlock_after_fork_in_parent();
  }
  t_in_probe = t_guard_before_fork;
}

void child() {
  walk_cache_after_fork_in_child();
  if (ResourceTable* r = resources())
    r->reset_after_fork_in_child(reinterpret_cast<uintptr_t>(pthread_self()));
  if (Tracker* t = tracker()) {
    t->reset_after_fork_in_child();
    writer_restart_in_child();
  }
  t_in_probe = t_guard_before_fork;
}

}  // namespace

void install_fork_handlers() { pthread_atfork(prepare, parent, child); }

}  // namespace leakprobe
