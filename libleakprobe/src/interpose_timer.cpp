// The interposed POSIX timer API. A timer that is created and never deleted keeps its
// signal or its helper thread armed for the life of the process: the "timer not Stop()ped"
// row of the reference guide's resource table.
#include <signal.h>
#include <time.h>

#include <atomic>

#include "guard.h"
#include "next_symbol.h"
#include "resource_gate.h"
#include "resource_table.h"

#define LP_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
using create_fn = int (*)(clockid_t, sigevent*, timer_t*);
using delete_fn = int (*)(timer_t);
std::atomic<create_fn> g_next_timer_create{nullptr};
std::atomic<delete_fn> g_next_timer_delete{nullptr};

}  // namespace

namespace leakprobe {
void resolve_timer_functions() {
  next_symbol(g_next_timer_create, "timer_create");
  next_symbol(g_next_timer_delete, "timer_delete");
}
}  // namespace leakprobe

LP_EXPORT int timer_create(clockid_t clock, sigevent* ev, timer_t* id) noexcept {
  int rc = leakprobe::next_symbol(g_next_timer_create, "timer_create")(clock, ev, id);
  if (rc == 0 && !leakprobe::guard_held())
    if (leakprobe::ResourceTable* t = leakprobe::resources_for_create()) {
      leakprobe::Guard g;
      t->timer_created_here(*id);
    }
  return rc;
}

// Released before the real call: once deleted, the id can be handed out again.
LP_EXPORT int timer_delete(timer_t id) noexcept {
  if (leakprobe::ResourceTable* t = leakprobe::resources_for_release()) t->timer_deleted(id);
  return leakprobe::next_symbol(g_next_timer_delete, "timer_delete")(id);
}
