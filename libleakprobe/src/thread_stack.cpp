#include "thread_stack.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>

#include "guard.h"

namespace leakprobe {
namespace {

enum : uint8_t { kUnset = 0, kReady = 1, kUnavailable = 2 };

// initial-exec TLS (see guard.h). Nothing to free at thread exit.
__thread uintptr_t t_lo __attribute__((tls_model("initial-exec"))) = 0;
__thread uintptr_t t_hi __attribute__((tls_model("initial-exec"))) = 0;
__thread uint8_t t_state __attribute__((tls_model("initial-exec"))) = kUnset;

uintptr_t g_getattr_begin = 0;
uintptr_t g_getattr_end = 0;

}  // namespace

void thread_stack_init() {
  Dl_info info;
  void* sym = nullptr;
  if (!dladdr1(reinterpret_cast<void*>(&pthread_getattr_np), &info, &sym, RTLD_DL_SYMENT) || !sym ||
      !info.dli_saddr)
    return;
  const auto size = static_cast<const ElfW(Sym)*>(sym)->st_size;
  g_getattr_begin = reinterpret_cast<uintptr_t>(info.dli_saddr);
  g_getattr_end = g_getattr_begin + size;
}

bool in_getattr(uintptr_t pc) {
  // Without its size every caller is suspect: never set a thread up from an allocation.
  if (g_getattr_end == g_getattr_begin) return true;
  return pc > g_getattr_begin && pc <= g_getattr_end;
}

StackBounds thread_stack_bounds() {
  if (t_state != kReady) return {};
  return {t_lo, t_hi};
}

bool thread_stack_unset() { return t_state == kUnset; }

void thread_stack_setup() {
  if (t_state != kUnset) return;
  Guard g;
  t_state = kUnavailable;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* addr = nullptr;
  size_t size = 0;
  int rc = pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  if (rc != 0 || !addr || !size) return;
  t_lo = reinterpret_cast<uintptr_t>(addr);
  t_hi = t_lo + size;
  t_state = kReady;
}

}  // namespace leakprobe
