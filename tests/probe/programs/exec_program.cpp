// Stage 1 leaks a block, takes a snapshot and execs itself as stage 2, which leaks another
// block and exits: the same pid, a fresh probe, the next sequence number.
#include <string>

#include "prog_util.h"

SITE void* site_exec1_60013() { return keep(malloc(60013)); }
SITE void* site_exec2_60017() { return keep(malloc(60017)); }

int main(int argc, char** argv) {
  CHECK(argc == 2);
  if (std::string(argv[1]) == "stage1") {
    site_exec1_60013();
    std::string reply = request_snapshot(getpid());
    CHECK(reply.rfind("ok /", 0) == 0);
    char* args[] = {argv[0], const_cast<char*>("stage2"), nullptr};
    execv("/proc/self/exe", args);
    perror("execv");
    return 2;
  }
  site_exec2_60017();
  printf("stage2 %d\n", getpid());
  return 0;
}
