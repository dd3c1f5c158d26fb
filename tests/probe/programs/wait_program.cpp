// Leaks one block, says "ready <pid>", then waits for stdin to close (bounded by an alarm),
// so the driver can take snapshots from outside: by signal, control socket or interval.
#include <csignal>

#include "prog_util.h"

SITE void* site_wait_70001() { return keep(malloc(70001)); }

int main() {
  alarm(60);  // never outlive a broken driver
  site_wait_70001();
  printf("ready %d\n", getpid());
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof(buf)) > 0) {
  }
  return 0;
}
