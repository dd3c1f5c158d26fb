/* A program for the CLI tests: allocates from a known site, says READY, and waits for stdin to
 * close, so the test decides when snapshots are taken and when it exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void* volatile keep[16];

__attribute__((noinline)) static void* cli_target_alloc_7777(void) {
  void* p = malloc(7777);
  memset(p, 1, 7777);
  return p;
}

int main(void) {
  for (int i = 0; i < 3; ++i) keep[i] = cli_target_alloc_7777();
  printf("READY %d\n", (int)getpid());
  fflush(stdout);
  char buf[64];
  while (fgets(buf, sizeof buf, stdin) != NULL) {
    keep[3 + (buf[0] & 7)] = cli_target_alloc_7777();
  }
  return 0;
}
