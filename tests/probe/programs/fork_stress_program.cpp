// Forks repeatedly while other threads allocate and snapshots are being written: every
// child must be able to allocate, take a snapshot of its own and exit (no lock inherited
// held), and the parent must finish.
#include <pthread.h>
#include <sys/wait.h>

#include <atomic>
#include <string>
#include <vector>

#include "prog_util.h"

SITE void* site_worker_alloc(size_t n) { return keep(malloc(n)); }
SITE void* site_child_90001() { return keep(malloc(90001)); }

std::atomic<bool> g_stop{false};

void* worker(void*) {
  std::vector<void*> ring(64, nullptr);
  for (unsigned i = 0; !g_stop.load(std::memory_order_relaxed) && i < 50000000; ++i) {
    free(ring[i % ring.size()]);
    ring[i % ring.size()] = site_worker_alloc(16 + i % 700);
  }
  for (void* p : ring) free(p);
  return nullptr;
}

void* snapshotter(void*) {
  while (!g_stop.load()) {
    request_snapshot(getpid());
    usleep(5000);
  }
  return nullptr;
}

int main() {
  pthread_t th[4];
  for (auto& t : th) CHECK(pthread_create(&t, nullptr, worker, nullptr) == 0);
  pthread_t snap;
  CHECK(pthread_create(&snap, nullptr, snapshotter, nullptr) == 0);
  int ok = 0;
  for (int i = 0; i < 20; ++i) {
    pid_t c = fork();
    CHECK(c >= 0);
    if (c == 0) {
      alarm(20);  // a deadlocked child dies by SIGALRM and the parent sees it
      site_child_90001();
      std::string reply = request_snapshot(getpid());
      if (reply.rfind("ok /", 0) != 0) _exit(5);
      exit(0);
    }
    int status = 0;
    CHECK(waitpid(c, &status, 0) == c);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      ++ok;
    else
      fprintf(stderr, "child %d: status %d\n", c, status);
    usleep(2000);
  }
  g_stop = true;
  for (auto& t : th) CHECK(pthread_join(t, nullptr) == 0);
  CHECK(pthread_join(snap, nullptr) == 0);
  printf("children-ok %d\n", ok);
  return ok == 20 ? 0 : 1;
}
