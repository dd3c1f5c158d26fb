// Helpers shared by the preloaded test programs: allocation sites that stay visible as
// their own frames, and asking the probe for a snapshot over its control socket.
#pragma once

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "leakprobe/snapshot_format.h"

// noinline + a use of the result after the call: the call stays a real call (no tail call,
// no inlining), so the snapshot's leaf frame lies inside the site function.
#define SITE extern "C" __attribute__((noinline, used))

extern "C" void* volatile g_sink;
inline void* keep(void* p) {
  g_sink = p;
  return p;
}

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(3);                                                                 \
    }                                                                          \
  } while (0)

// Sends "snapshot\n" to this process's own control socket (@leakprobe.<pid namespace>.<pid>)
// and returns the reply line ("ok <path>" or "error ..."), or "" if the socket is not there.
inline std::string request_snapshot(int pid) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  struct stat ns {};
  stat("/proc/self/ns/pid", &ns);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  int n = leakprobe::format::control_socket_name(addr.sun_path + 1, sizeof(addr.sun_path) - 1,
                                                 ns.st_ino, pid);
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    close(fd);
    return "";
  }
  const char req[] = "snapshot\n";
  if (write(fd, req, sizeof(req) - 1) != static_cast<ssize_t>(sizeof(req) - 1)) {
    close(fd);
    return "";
  }
  std::string reply;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') reply += c;
  close(fd);
  return reply;
}
