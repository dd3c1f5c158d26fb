// The interposed pthread_create: the host's thread starts in thread_start() below, which
// marks it running under its creating stack and hands over to the host's routine. A thread
// stops counting when it exits, however it exits (return, pthread_exit, cancellation): its hook
// in the probe's one pthread key (thread_exit.h) runs then. A thread that never exits -- a watcher
// blocked forever, the C++ form of a leaked goroutine -- stays live in every snapshot.
#include <pthread.h>

#include <atomic>
#include <cerrno>

#include "guard.h"
#include "interposer.h"
#include "resource_gate.h"
#include "resource_table.h"
#include "thread_exit.h"

namespace {

using leakprobe::ResourceTable;
using create_fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
LP_NEXT_SLOT(pthread_create, create_fn);

std::atomic<bool> g_exit_hook{false};  // the probe's thread-exit key is there

void on_thread_exit(void* record) {
  if (ResourceTable* t = leakprobe::resources())
    t->thread_exited(static_cast<ResourceTable::ThreadRecord*>(record));
}

void* thread_start(void* p) {
  auto* r = static_cast<ResourceTable::ThreadRecord*>(p);
  void* (*fn)(void*) = r->fn;
  void* arg = r->arg;
  {
    leakprobe::Guard g;  // pthread_setspecific allocates for keys past the first 32
    leakprobe::resources()->thread_started(r, reinterpret_cast<uintptr_t>(pthread_self()));
    leakprobe::thread_exit_set(leakprobe::ThreadExitHook::kThreadRecord, r);
  }
  // A tail call where the compiler can: the host's frames then start right below glibc's
  // start_thread, as without the probe.
  return fn(arg);
}

}  // namespace

namespace leakprobe {
// From the constructor (or the first attach). Without the key no exit could be seen: threads
// are then not tracked (thread_exit_init has said so).
void init_thread_tracking() {
  LP_NEXT(pthread_create);
  thread_exit_register(ThreadExitHook::kThreadRecord, on_thread_exit);
  if (thread_exit_init()) g_exit_hook.store(true, std::memory_order_release);
}
}  // namespace leakprobe

LP_EXPORT int pthread_create(pthread_t* th, const pthread_attr_t* attr, void* (*fn)(void*),
                             void* arg) noexcept {
  auto real = LP_NEXT(pthread_create);
  // The probe's own threads are created with the guard held and never counted.
  ResourceTable* t = leakprobe::guard_held() ? nullptr : leakprobe::resources_for_create();
  if (!t || !g_exit_hook.load(std::memory_order_acquire)) return real(th, attr, fn, arg);
  ResourceTable::ThreadRecord* r;
  {
    leakprobe::Guard g;
    r = t->thread_prepare_here(fn, arg);
  }
  if (!r) return real(th, attr, fn, arg);
  int rc = real(th, attr, thread_start, r);
  if (rc != 0) t->thread_abandon(r);
  return rc;
}
