/* Takes an abstract unix socket name before its owner can (abstract names have no permissions)
 * and answers every connection with a lie: what a hostile local user can do to the control
 * socket of a probe that runs without one. Usage: squatter NAME REPLY; says READY when bound. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3 || strlen(argv[1]) + 2 > sizeof(((struct sockaddr_un*)0)->sun_path)) {
    fprintf(stderr, "usage: squatter NAME REPLY\n");
    return 2;
  }
  alarm(120); /* never outlives a test that forgot it */
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path + 1, argv[1], strlen(argv[1]));
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(argv[1]));
  if (s < 0 || bind(s, (struct sockaddr*)&addr, len) != 0 || listen(s, 8) != 0) {
    perror("squatter");
    return 1;
  }
  printf("READY\n");
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    char line[512];
    int n = snprintf(line, sizeof line, "%s\n", argv[2]);
    if (n > 0 && send(c, line, (size_t)n, MSG_NOSIGNAL) < 0) perror("squatter: send");
    close(c);
  }
}
