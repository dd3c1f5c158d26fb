// The parent leaks 3 blocks, forks; the child leaks 5 more, asks its own probe for a
// snapshot over the child's control socket, and exits. Both write exit snapshots.
#include <sys/wait.h>

#include <string>

#include "prog_util.h"

SITE void* site_parent_30011() { return keep(malloc(30011)); }
SITE void* site_child_30013() { return keep(malloc(30013)); }

int main() {
  for (int i = 0; i < 3; ++i) site_parent_30011();
  fflush(stdout);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    for (int i = 0; i < 5; ++i) site_child_30013();
    std::string reply = request_snapshot(getpid());
    std::string want = "leakprobe." + std::to_string(getpid()) + ".";
    if (reply.rfind("ok /", 0) != 0 || reply.find(want) == std::string::npos) {
      fprintf(stderr, "child snapshot reply: '%s'\n", reply.c_str());
      exit(4);
    }
    printf("child %d\n", getpid());
    exit(0);
  }
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  printf("parent %d\n", getpid());
  return 0;
}
