/* A program whose live memory is known exactly, for checking heapdiff's estimates from a
 * sampled snapshot against the truth. Says READY, then on each stdin line allocates
 * SMALL_COUNT blocks of SMALL_SIZE bytes and LARGE_COUNT of LARGE_SIZE from two distinct
 * sites, keeps them all live and says GREW. Exits when stdin closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SMALL_COUNT = 20000, SMALL_SIZE = 1000, LARGE_COUNT = 40, LARGE_SIZE = 262144 };

static void* volatile sink;

__attribute__((noinline)) static void* sampled_target_small_1000(void) {
  void* p = malloc(SMALL_SIZE);
  memset(p, 1, SMALL_SIZE);
  return p;
}

__attribute__((noinline)) static void* sampled_target_large_262144(void) {
  void* p = malloc(LARGE_SIZE);
  memset(p, 1, 64);
  return p;
}

int main(void) {
  printf("READY %d\n", (int)getpid());
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin) != NULL) {
    /* Never freed: each round's blocks stay live, as a leak's would. */
    for (int i = 0; i < SMALL_COUNT; ++i) sink = sampled_target_small_1000();
    for (int i = 0; i < LARGE_COUNT; ++i) sink = sampled_target_large_262144();
    printf("GREW\n");
    fflush(stdout);
  }
  return 0;
}
