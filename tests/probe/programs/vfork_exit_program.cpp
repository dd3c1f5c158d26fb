// A host whose vfork child calls exit() (not _exit) after a failed exec, as careless code
// does. The child runs (and uses up) the atexit handlers in the parent's memory, the
// probe's exit snapshot included. The parent must keep a working probe afterwards: it asks
// for a snapshot over the control socket and prints the reply's first word.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "prog_util.h"

int main() {
  pid_t pid = vfork();
  if (pid == 0) {
    char* const argv[] = {const_cast<char*>("/nonexistent/leakprobe-test"), nullptr};
    execv(argv[0], argv);
    exit(3);  // the mistake under test
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("child %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  fflush(stdout);
  alarm(20);  // a probe stuck on a lock the child kept would never answer
  std::string reply = request_snapshot(getpid());
  printf("request %s\n", reply.substr(0, reply.find(' ')).c_str());
  return 0;
}
