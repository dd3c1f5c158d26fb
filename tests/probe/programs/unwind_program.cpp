// Allocation patterns that an unwinder could get wrong, with deterministic
// counts: the same (leaf return address, stack pointer) reached through different callers,
// alloca/VLA frames that move the stack between the site and main, allocations in signal
// handlers on the normal and on an alternate stack, on a makecontext stack, and in threads.
// Run with LEAKPROBE_VERIFY_UNWIND=1, every stack must be the one libunwind gives.
#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <array>
#include <utility>

#include "prog_util.h"

namespace {

constexpr int kSites = 12;
constexpr int kMaxDepth = 12;
constexpr int kReps = 3;
constexpr int kThreads = 3;

// Every site leaks one block in four, so live and total counts both carry information.
thread_local int g_counter = 0;  // per thread: the threads run concurrently
void* maybe_free(void* p) {
  if (++g_counter % 4 != 0) free(p);
  return p;
}

template <int N>
__attribute__((noinline)) void* site(size_t n) {
  return keep(malloc(n + N));
}

using SiteFn = void* (*)(size_t);
template <int... N>
constexpr auto make_sites(std::integer_sequence<int, N...>) {
  return std::array<SiteFn, sizeof...(N)>{&site<N>...};
}

// Two callers with identical frames: the leaf sees the same return address and stack
// pointer from both, only the slots further up differ.
template <int M>
__attribute__((noinline)) void* descend(int depth, int s, size_t n) {
  static const auto kTable = make_sites(std::make_integer_sequence<int, kSites>{});
  if (depth <= 0) return kTable[static_cast<size_t>(s)](n);
  void* p = descend<M>(depth - 1, s, n);
  keep(p);
  return p;
}

__attribute__((noinline)) void* via_alloca(int pad, int depth, int s, size_t n) {
  char* buf = static_cast<char*>(alloca(static_cast<size_t>(pad) * 16 + 8));
  buf[0] = static_cast<char>(pad);
  keep(buf);
  void* p = (pad & 1) ? descend<0>(depth, s, n) : descend<1>(depth, s, n);
  keep(buf);
  return p;
}

__attribute__((noinline)) void* via_vla(int pad, int depth, int s, size_t n) {
  volatile char vla[pad * 24 + 8];
  vla[0] = static_cast<char>(pad);
  void* p = descend<1>(depth, s, n);
  vla[1] = 1;
  keep(const_cast<char*>(vla));
  return p;
}

__attribute__((noinline)) void workload(int salt) {
  for (int rep = 0; rep < kReps; ++rep)
    for (int d = 0; d < kMaxDepth; ++d)
      for (int s = 0; s < kSites; ++s) {
        size_t n = static_cast<size_t>(16 + s * 8 + salt);
        maybe_free(descend<0>(d, s, n));
        maybe_free(descend<1>(d, s, n));
        maybe_free(via_alloca((s + d + rep) % 5, d, s, n));
        maybe_free(via_vla((s * 3 + rep) % 4, d, s, n));
      }
}

// Signal handlers allocate through the same sites. raise() delivers synchronously, so the
// counts stay deterministic.
volatile int g_depth = 0;
__attribute__((noinline)) void alt_handler(int) {
  keep(descend<0>(g_depth, 3, 40));
  keep(descend<1>(g_depth, 4, 48));
}
__attribute__((noinline)) void plain_handler(int) { keep(descend<1>(g_depth, 5, 56)); }

__attribute__((noinline)) void signals() {
  stack_t ss{};
  ss.ss_size = 256 * 1024;
  ss.ss_sp = mmap(nullptr, ss.ss_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(ss.ss_sp != MAP_FAILED);
  CHECK(sigaltstack(&ss, nullptr) == 0);
  struct sigaction sa {};
  sa.sa_handler = alt_handler;
  sa.sa_flags = SA_ONSTACK;
  CHECK(sigaction(SIGUSR1, &sa, nullptr) == 0);
  sa.sa_handler = plain_handler;
  sa.sa_flags = 0;
  CHECK(sigaction(SIGUSR2, &sa, nullptr) == 0);
  for (int rep = 0; rep < 4; ++rep)
    for (int d = 0; d < 6; ++d) {
      g_depth = d;
      raise(SIGUSR1);
      raise(SIGUSR2);
    }
}

// A makecontext stack: outside the thread's own stack, read page by page.
ucontext_t g_main_ctx, g_co_ctx;
__attribute__((noinline)) void coroutine_body() {
  for (int rep = 0; rep < 4; ++rep)
    for (int d = 0; d < 6; ++d) {
      keep(descend<0>(d, 6, 64));
      swapcontext(&g_co_ctx, &g_main_ctx);
    }
}

__attribute__((noinline)) void coroutine() {
  const size_t size = 256 * 1024;
  void* stack = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(stack != MAP_FAILED);
  CHECK(getcontext(&g_co_ctx) == 0);
  g_co_ctx.uc_stack.ss_sp = stack;
  g_co_ctx.uc_stack.ss_size = size;
  g_co_ctx.uc_link = &g_main_ctx;
  makecontext(&g_co_ctx, coroutine_body, 0);
  for (int i = 0; i < 24; ++i) {
    CHECK(swapcontext(&g_main_ctx, &g_co_ctx) == 0);
    keep(descend<1>(i % 6, 7, 72));  // same sites from the main stack in between
  }
}

void* thread_main(void* arg) {
  // As a thread's first allocation, pthread_getattr_np's own (made holding the thread's
  // lock): looking the thread's bounds up from there, with that same call, would deadlock.
  pthread_attr_t attr;
  CHECK(pthread_getattr_np(pthread_self(), &attr) == 0);
  pthread_attr_destroy(&attr);
  workload(static_cast<int>(reinterpret_cast<uintptr_t>(arg)));
  return nullptr;
}

}  // namespace

int main() {
  workload(0);
  signals();
  coroutine();
  pthread_t th[kThreads];
  for (int i = 0; i < kThreads; ++i)
    CHECK(pthread_create(&th[i], nullptr, thread_main, reinterpret_cast<void*>(uintptr_t(i + 1))) ==
          0);
  for (auto& t : th) CHECK(pthread_join(t, nullptr) == 0);
  workload(0);
  return 0;
}
