/* A program for the CLI tests: allocates from a known site, says READY, and waits for stdin to
 * close, so the test decides when snapshots are taken and when it exits. With --drop-to UID it
 * first gives up root as daemons do (mosquitto without `user root`): the probe started as root,
 * and the process is no longer dumpable, so its /proc/PID/maps is root's. */
#include <grp.h>
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

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--drop-to") == 0) {
    const unsigned id = (unsigned)atoi(argv[2]);
    if (setgroups(0, NULL) != 0 || setgid(id) != 0 || setuid(id) != 0) {
      perror("cli_target: dropping privileges");
      return 3;
    }
  }
  for (int i = 0; i < 3; ++i) keep[i] = cli_target_alloc_7777();
  printf("READY %d\n", (int)getpid());
  fflush(stdout);
  char buf[64];
  while (fgets(buf, sizeof buf, stdin) != NULL) {
    keep[3 + (buf[0] & 7)] = cli_target_alloc_7777();
  }
  return 0;
}
