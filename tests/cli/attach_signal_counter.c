/* A target for `leakprobe attach` while signals arrive: the main thread sits in read() on a pipe
 * and counts SIGUSR1 with a handler installed without SA_RESTART, so each SIGUSR1 that lands
 * while it waits makes that read fail with EINTR, which it asked for; an EINTR without a
 * SIGUSR1 would be one it did not ask for. Two more threads churn malloc/free (so an attach
 * keeps finding threads inside malloc and must wait for a moment when none is), one sleeps in
 * nanosleep. Every 5 ms a writer thread puts "usr1 N eintr M other K churn C" in the file
 * argv[1] (through a rename). Prints "READY <pid>". */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t usr1;
static unsigned long eintr, other, churn;
static const char* counter_path;

static void on_usr1(int sig) {
  (void)sig;
  usr1 = usr1 + 1;
}

static void* churner(void* arg) {
  unsigned seed = (unsigned)(unsigned long)arg;
  for (;;) {
    size_t n = 16 + (size_t)(rand_r(&seed) % 4096);
    char* p = malloc(n);
    if (p) memset(p, 0x5a, n);
    free(p);
    __atomic_add_fetch(&churn, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

static void* sleeper(void* arg) {
  (void)arg;
  for (;;) {
    struct timespec t = {0, 50 * 1000 * 1000};
    nanosleep(&t, NULL);
  }
  return NULL;
}

static void* writer(void* arg) {
  (void)arg;
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", counter_path);
  for (;;) {
    FILE* f = fopen(tmp, "w");
    if (f) {
      fprintf(f, "usr1 %ld eintr %lu other %lu churn %lu\n", (long)usr1,
              __atomic_load_n(&eintr, __ATOMIC_RELAXED), __atomic_load_n(&other, __ATOMIC_RELAXED),
              __atomic_load_n(&churn, __ATOMIC_RELAXED));
      fclose(f);
      rename(tmp, counter_path);
    }
    usleep(5000);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: attach_signal_counter COUNTER_FILE\n");
    return 2;
  }
  counter_path = argv[1];
  int fds[2];
  if (pipe(fds) != 0) return 3;
  /* Only the main thread takes SIGUSR1: the others block it (they inherit this mask). */
  sigset_t usr1_set;
  sigemptyset(&usr1_set);
  sigaddset(&usr1_set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1_set, NULL);
  pthread_t t;
  pthread_create(&t, NULL, churner, (void*)1);
  pthread_create(&t, NULL, churner, (void*)2);
  pthread_create(&t, NULL, sleeper, NULL);
  pthread_create(&t, NULL, writer, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: the read below is meant to see EINTR for each SIGUSR1 */
  sigaction(SIGUSR1, &sa, NULL);
  pthread_sigmask(SIG_UNBLOCK, &usr1_set, NULL);
  printf("READY %d\n", (int)getpid());
  fflush(stdout);
  for (;;) {
    char c;
    const ssize_t n = read(fds[0], &c, 1);
    if (n < 0 && errno == EINTR) {
      __atomic_add_fetch(&eintr, 1, __ATOMIC_RELAXED);
    } else {
      __atomic_add_fetch(&other, 1, __ATOMIC_RELAXED);
    }
  }
}
