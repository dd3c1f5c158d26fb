// 8 threads allocate and free concurrently while snapshots are requested over the control
// socket and by signal. Every count is deterministic: each thread churns exactly kIters
// blocks from one site and leaks exactly kLeaks from another.
#include <pthread.h>
#include <signal.h>

#include <string>
#include <vector>

#include "prog_util.h"

constexpr int kThreads = 8;
constexpr int kIters = 20000;
constexpr int kLeaks = 10;

SITE void* site_churn_small(size_t n) { return keep(malloc(n)); }
SITE void* site_churn_realloc(void* p, size_t n) { return keep(realloc(p, n)); }
SITE void* site_leak_10061() { return keep(malloc(10061)); }

pthread_barrier_t g_start;

void* worker(void* arg) {
  auto id = reinterpret_cast<uintptr_t>(arg);
  pthread_barrier_wait(&g_start);
  std::vector<void*> window(16, nullptr);
  for (int i = 0; i < kIters; ++i) {
    size_t slot = static_cast<size_t>(i) % window.size();
    free(window[slot]);
    void* p = site_churn_small(16 + (i * 7 + id) % 512);
    window[slot] = (i % 3 == 0) ? site_churn_realloc(p, 700 + i % 300) : p;
    if (i % (kIters / kLeaks) == 0) site_leak_10061();
  }
  for (void* p : window) free(p);
  return nullptr;
}

void* snapshotter(void*) {
  int ok = 0;
  pthread_barrier_wait(&g_start);
  for (int i = 0; i < 10; ++i) {
    std::string reply = request_snapshot(getpid());
    if (reply.rfind("ok /", 0) == 0)
      ++ok;
    else
      fprintf(stderr, "snapshot request %d: '%s'\n", i, reply.c_str());
    kill(getpid(), SIGRTMIN + 7);
    usleep(2000);
  }
  return reinterpret_cast<void*>(static_cast<uintptr_t>(ok));
}

int main() {
  pthread_barrier_init(&g_start, nullptr, kThreads + 1);
  pthread_t snap;
  CHECK(pthread_create(&snap, nullptr, snapshotter, nullptr) == 0);
  pthread_t th[kThreads];
  for (int i = 0; i < kThreads; ++i)
    CHECK(pthread_create(&th[i], nullptr, worker, reinterpret_cast<void*>(uintptr_t(i))) == 0);
  for (auto& t : th) CHECK(pthread_join(t, nullptr) == 0);
  void* ok = nullptr;
  CHECK(pthread_join(snap, &ok) == 0);
  printf("requests-ok %lu\n", static_cast<unsigned long>(reinterpret_cast<uintptr_t>(ok)));
  return 0;
}
