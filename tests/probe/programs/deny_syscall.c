/* Runs a command with one of the probe's needs taken away, as a sandbox would:
 *   deny_syscall socket-unix CMD...      socket(AF_UNIX, ...) fails with EPERM (seccomp)
 *   deny_syscall rt-sigaction=N CMD...   rt_sigaction(N, ...) fails with EPERM (seccomp)
 *   deny_syscall thread CMD...           clone(CLONE_THREAD) fails with EPERM, clone3 with ENOSYS
 *                                        (so glibc falls back to clone): no thread can start,
 *                                        while fork still works (seccomp)
 *   deny_syscall hold-control-name CMD... binds this pid's control socket name and keeps it
 *                                        across exec, so the probe finds it taken (EADDRINUSE)
 * The filter is raw classic BPF (no libseccomp needed); x86-64 only: elsewhere it exits 77. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define ARG0_LO offsetof(struct seccomp_data, args[0])
#define RET_ERRNO(e) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((e)&SECCOMP_RET_DATA))
#define RET_ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static int install(struct sock_filter* f, unsigned short n) {
  struct sock_fprog prog = {n, f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Denies syscall `nr` with `err` when the low 32 bits of its first argument equal `arg0`. */
static int deny_with_arg0(unsigned nr, unsigned arg0, int err) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      RET_ALLOW,
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 1, 0),
      RET_ALLOW,
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arg0, 1, 0),
      RET_ALLOW,
      RET_ERRNO(err),
  };
  return install(f, sizeof f / sizeof f[0]);
}

static int deny_threads(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      RET_ALLOW,
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
      RET_ERRNO(ENOSYS),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 1, 0),
      RET_ALLOW,
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO), /* clone's flags */
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
      RET_ERRNO(EPERM),
      RET_ALLOW,
  };
  return install(f, sizeof f / sizeof f[0]);
}

static int hold_control_name(void) {
  struct stat ns;
  if (stat("/proc/self/ns/pid", &ns) != 0) return -1;
  char name[96];
  int n = snprintf(name, sizeof name, "leakprobe.%llu.%d", (unsigned long long)ns.st_ino,
                   (int)getpid());
  int s = socket(AF_UNIX, SOCK_STREAM, 0); /* no close-on-exec: it outlives the exec */
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path + 1, name, (size_t)n);
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
  if (s < 0 || bind(s, (struct sockaddr*)&addr, len) != 0) return -1;
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr,
            "usage: deny_syscall socket-unix|rt-sigaction=N|thread|hold-control-name CMD...\n");
    return 2;
  }
#if !defined(__x86_64__)
  if (strcmp(argv[1], "hold-control-name") != 0) {
    fprintf(stderr, "deny_syscall: the filters are written for x86-64\n");
    return 77;
  }
#endif
  int rc;
  if (strcmp(argv[1], "socket-unix") == 0) {
    rc = deny_with_arg0(SYS_socket, AF_UNIX, EPERM);
  } else if (strncmp(argv[1], "rt-sigaction=", 13) == 0) {
    rc = deny_with_arg0(SYS_rt_sigaction, (unsigned)atoi(argv[1] + 13), EPERM);
  } else if (strcmp(argv[1], "thread") == 0) {
    rc = deny_threads();
  } else if (strcmp(argv[1], "hold-control-name") == 0) {
    rc = hold_control_name();
  } else {
    fprintf(stderr, "deny_syscall: unknown mode %s\n", argv[1]);
    return 2;
  }
  if (rc != 0) {
    perror("deny_syscall");
    return 77;
  }
  execvp(argv[2], argv + 2);
  perror("deny_syscall: exec");
  return 127;
}
