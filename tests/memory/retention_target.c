// The issue-17 program: 4 threads each allocate 50,000 blocks of 1000 B. In "retain" mode
// each thread then frees 63 of every 64: almost nothing is live, but glibc keeps the freed
// memory (resident) in the 5 arenas, so RSS stays high: not a leak. In "leak" mode the
// threads keep every block: the same growth, all of it live.
//
// Driven on stdin, one word a line, answering on stdout: READY at start, "work" -> WORKED,
// anything else or EOF -> exit.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kThreads = 4, kBlocks = 50000, kSize = 1000 };

static int g_leak;
static void* g_blocks[kThreads][kBlocks];

__attribute__((noinline)) static void* retention_target_block_1000(void) {
  void* p = malloc(kSize);
  memset(p, 0x5a, kSize);  // resident, as a real service's data would be
  return p;
}

static void* worker(void* arg) {
  void** mine = g_blocks[(long)arg];
  for (int i = 0; i < kBlocks; ++i) mine[i] = retention_target_block_1000();
  if (!g_leak)
    for (int i = 0; i < kBlocks; ++i)
      if (i % 64) {
        free(mine[i]);
        mine[i] = NULL;
      }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 2 || (strcmp(argv[1], "retain") && strcmp(argv[1], "leak"))) {
    fprintf(stderr, "usage: %s retain|leak\n", argv[0]);
    return 2;
  }
  g_leak = strcmp(argv[1], "leak") == 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("READY\n");
  char line[64];
  while (fgets(line, sizeof(line), stdin) && strcmp(line, "work\n") == 0) {
    pthread_t t[kThreads];
    for (long i = 0; i < kThreads; ++i) pthread_create(&t[i], NULL, worker, (void*)i);
    for (int i = 0; i < kThreads; ++i) pthread_join(t[i], NULL);
    printf("WORKED\n");
  }
  return 0;
}
