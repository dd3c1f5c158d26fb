#include "thread_exit.h"

#include <pthread.h>

#include <atomic>

#include "log.h"

namespace leakprobe {
namespace {

constexpr int kHooks = static_cast<int>(ThreadExitHook::kCount);

pthread_key_t g_key;
// 0: not tried yet, 1: the key is ours, 2: none was left.
std::atomic<int> g_state{0};
std::atomic<ThreadExitFn> g_fns[kHooks];
__thread void* t_values[kHooks] __attribute__((tls_model("initial-exec")));

// Any non-null value: it only says that the thread has hooks to run.
void* const kArmed = &g_key;

void on_thread_exit(void*) {
  for (int i = 0; i < kHooks; ++i) {
    void* v = t_values[i];
    if (!v) continue;
    t_values[i] = nullptr;
    if (ThreadExitFn fn = g_fns[i].load(std::memory_order_acquire)) fn(v);
  }
}

}  // namespace

bool thread_exit_init() {
  int state = g_state.load(std::memory_order_acquire);
  if (state == 0) {
    // Called from the constructor or an attach (both single-threaded as far as the probe goes:
    // the attach holds its lock), so no two callers race for the key.
    if (pthread_key_create(&g_key, on_thread_exit) == 0) {
      state = 1;
    } else {
      state = 2;
      log_line(
          "no pthread key left in this process (the program holds all of them): threads are "
          "not tracked and stacks are walked without the per-thread cache (slower); "
          "allocations, descriptors and timers are recorded as usual");
    }
    g_state.store(state, std::memory_order_release);
  }
  return state == 1;
}

void thread_exit_register(ThreadExitHook hook, ThreadExitFn fn) {
  g_fns[static_cast<int>(hook)].store(fn, std::memory_order_release);
}

bool thread_exit_set(ThreadExitHook hook, void* value) {
  if (g_state.load(std::memory_order_acquire) != 1) return false;
  // Null while the thread has nothing armed, and again inside the destructor (glibc clears it
  // before the call): setting it then re-arms the key for the next round.
  if (!pthread_getspecific(g_key) && pthread_setspecific(g_key, kArmed) != 0) return false;
  t_values[static_cast<int>(hook)] = value;
  return true;
}

}  // namespace leakprobe
