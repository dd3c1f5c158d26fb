// Descriptors, timers and threads under the probe, one scenario per argument (see
// preload/test_resources.cpp for what each must leave in the snapshots). Creation sites are
// noinline functions with distinctive names, found again by symbolizing the leaf frame.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define NOINLINE extern "C" __attribute__((noinline))

NOINLINE int res_keep_site(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }
NOINLINE int res_churn_site(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }
NOINLINE int res_dup2_site(int fd, int to) { return dup2(fd, to); }
NOINLINE int res_sock_site(void) { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }
NOINLINE int res_child_sock_site(void) { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }
NOINLINE int res_inherit_site(void) { return open("/dev/null", O_RDONLY); }  // survives exec
NOINLINE int res_cloexec_site(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

static void fail(const char* what) {
  fprintf(stderr, "resources_program: %s\n", what);
  exit(3);
}

// 8 threads race open/dup2/close on numbers the kernel hands out and takes back; each keeps 3
// descriptors from res_keep_site and its dup2 target at 600 + t.
static void* racer(void* arg) {
  const int t = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  for (int i = 0; i < 2000; ++i) {
    int fd = res_churn_site();
    if (fd < 0) fail("open");
    if (res_dup2_site(fd, 600 + t) != 600 + t) fail("dup2");
    if (close(fd) != 0) fail("close");
    if (i % 500 == 0 && i < 1500 && res_keep_site() < 0) fail("keep");
  }
  return nullptr;
}

static void race() {
  pthread_t th[8];
  for (intptr_t t = 0; t < 8; ++t)
    pthread_create(&th[t], nullptr, racer, reinterpret_cast<void*>(t));
  for (pthread_t t : th) pthread_join(t, nullptr);
  // Closing a descriptor nobody opened is fine, and errno is the real call's.
  errno = 0;
  if (close(12345) != -1 || errno != EBADF) fail("close of an unknown descriptor");
  errno = 4242;
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || errno != 4242) fail("errno changed by a successful open");
  close(fd);
  errno = 4242;
  pthread_t th2;
  pthread_create(
      &th2, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
  pthread_join(th2, nullptr);
  if (errno != 4242) fail("errno changed by pthread_create");
}

static void* blocker(void*) {
  for (;;) pause();
  return nullptr;
}

// The child inherits the table: the parent's 2 sockets, plus 1 of its own; the parent's
// blocked thread does not exist in the child.
static void fork_case() {
  res_sock_site();
  res_sock_site();
  pthread_t th;
  pthread_create(&th, nullptr, blocker, nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    res_child_sock_site();
    exit(0);  // the child's exit snapshot
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("child");
}

// A vfork child closes the parent's socket in its own descriptor table: the parent's stays.
static void vfork_case() {
  int s = res_sock_site();
  pid_t pid = vfork();
  if (pid == 0) {
    close(s);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
}

// exec: the close-on-exec descriptor is gone in the new image, the other one is inherited.
static void exec_case(const char* self) {
  int keep = res_inherit_site();
  int gone = res_cloexec_site();
  if (keep < 0 || gone < 0) fail("open");
  execl(self, self, "after-exec", static_cast<char*>(nullptr));
  fail("exec");
}

NOINLINE int res_recv_site(int sock) {
  char data;
  iovec iov{&data, 1};
  alignas(cmsghdr) char buf[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = buf;
  msg.msg_controllen = sizeof(buf);
  if (recvmsg(sock, &msg, 0) != 1) fail("recvmsg");
  int fd;
  memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
  return fd;
}

// A descriptor passed over a Unix socket is counted where it was received.
static void scm_case() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
  int fd = res_cloexec_site();
  char data = 'x';
  iovec iov{&data, 1};
  alignas(cmsghdr) char buf[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = buf;
  msg.msg_controllen = sizeof(buf);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (sendmsg(sv[0], &msg, 0) != 1) fail("sendmsg");
  close(fd);
  res_recv_site(sv[1]);
}

NOINLINE int res_timer_site(timer_t* id) {
  sigevent ev{};
  ev.sigev_notify = SIGEV_NONE;
  return timer_create(CLOCK_MONOTONIC, &ev, id);
}

// 3 timers created, 1 deleted.
static void timer_case() {
  timer_t ids[3];
  for (timer_t& id : ids)
    if (res_timer_site(&id) != 0) fail("timer_create");
  if (timer_delete(ids[1]) != 0) fail("timer_delete");
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "race"))
    race();
  else if (!strcmp(mode, "fork"))
    fork_case();
  else if (!strcmp(mode, "vfork"))
    vfork_case();
  else if (!strcmp(mode, "exec"))
    exec_case(argv[0]);
  else if (!strcmp(mode, "after-exec"))
    return 0;
  else if (!strcmp(mode, "scm"))
    scm_case();
  else if (!strcmp(mode, "timers"))
    timer_case();
  else
    fail("unknown mode");
  return 0;
}
