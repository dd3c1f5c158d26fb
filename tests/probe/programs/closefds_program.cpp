// A daemon-like host that closes every descriptor it did not open (the probe's control
// socket included) and then opens a listening socket of its own, which typically gets the
// same number. The probe must not take that socket's connections; signals must still work.
#include <poll.h>

#include <csignal>
#include <string>

#include "prog_util.h"

SITE void* site_closefds_80021() { return keep(malloc(80021)); }

int main() {
  alarm(60);
  for (int fd = 3; fd < 1024; ++fd) close(fd);
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(ls >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string name = "probe-host." + std::to_string(getpid());
  memcpy(addr.sun_path + 1, name.data(), name.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  CHECK(bind(ls, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  CHECK(listen(ls, 4) == 0);
  site_closefds_80021();
  printf("ready %d fd %d\n", getpid(), ls);
  fflush(stdout);
  // Serve "ping" -> "pong" on our socket until stdin closes.
  for (;;) {
    pollfd p[2] = {{0, POLLIN, 0}, {ls, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents & POLLIN) {
      int c = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        char buf[16] = {};
        ssize_t n = read(c, buf, sizeof(buf) - 1);
        if (n > 0 && std::string(buf) == "ping\n") CHECK(write(c, "pong\n", 5) == 5);
        close(c);
      }
    }
    if (p[0].revents) {
      char buf[64];
      if (read(0, buf, sizeof(buf)) <= 0) break;
    }
  }
  return 0;
}
