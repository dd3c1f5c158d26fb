// The interposed POSIX timer API. A timer that is created and never deleted keeps its
// signal or its helper thread armed for the life of the process: the "timer not Stop()ped"
// row of the reference guide's resource table.
#include <signal.h>
#include <time.h>

#include <atomic>

#include "guard.h"
#include "interposer.h"
#include "resource_gate.h"
#include "resource_table.h"

namespace {
using create_fn = int (*)(clockid_t, sigevent*, timer_t*);
using delete_fn = int (*)(timer_t);
LP_NEXT_SLOT(timer_create, create_fn);
LP_NEXT_SLOT(timer_delete, delete_fn);

}  // namespace

namespace leakprobe {
void resolve_timer_functions() {
  LP_NEXT(timer_create);
  LP_NEXT(timer_delete);
}
}  // namespace leakprobe

LP_EXPORT int timer_create(clockid_t clock, sigevent* ev, timer_t* id) noexcept {
  int rc = LP_NEXT(timer_create)(clock, ev, id);
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
  return LP_NEXT(timer_delete)(id);
}
