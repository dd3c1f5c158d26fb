/* A target for `leakprobe attach`'s refusal tests. It proves it still runs by bumping a counter
 * in a file (argv[2]) every 20 ms, so a test can see it was not stopped or changed by a refusal.
 *   plain    just that (built dynamically, and statically where libc.a exists)
 *   seccomp  first installs an allow-all seccomp filter (so /proc/PID/status says Seccomp: 2)
 *   dropped  first gives up root for uid/gid 65534, as daemons do, so the kernel makes it
 *            non-dumpable: only root may attach to it, even as its new user
 *   traced   forks; the parent PTRACE_SEIZEs the child (which does not stop it) and stays its
 *            tracer; the child is the target
 * Prints "READY <target pid>" once the target is in place. */
#include <errno.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

/* Through a temporary + rename, so a reader never sees the file empty. */
static void tick_forever(const char* path) {
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  for (unsigned long n = 1;; ++n) {
    FILE* f = fopen(tmp, "w");
    if (f) {
      fprintf(f, "%lu\n", n);
      fclose(f);
      rename(tmp, path);
    }
    usleep(20000);
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: attach_fixture plain|seccomp|dropped|traced COUNTER_FILE\n");
    return 2;
  }
  const char* mode = argv[1];
  if (strcmp(mode, "seccomp") == 0) {
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = 1, .filter = allow};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      perror("attach_fixture: seccomp");
      return 3;
    }
  } else if (strcmp(mode, "dropped") == 0) {
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
      perror("attach_fixture: dropping privileges");
      return 3;
    }
  } else if (strcmp(mode, "traced") == 0) {
    const pid_t child = fork();
    if (child < 0) return 3;
    if (child == 0) tick_forever(argv[2]);
    if (ptrace(PTRACE_SEIZE, child, 0, 0) != 0) {
      perror("attach_fixture: PTRACE_SEIZE");
      kill(child, SIGKILL);
      return 3;
    }
    printf("READY %d\n", (int)child);
    fflush(stdout);
    /* Pass every signal on, so the child lives and dies as it would untraced; leave with it. */
    for (;;) {
      int status = 0;
      if (waitpid(child, &status, 0) < 0) return errno == EINTR ? 0 : 3;
      if (WIFEXITED(status) || WIFSIGNALED(status)) return 0;
      if (WIFSTOPPED(status)) ptrace(PTRACE_CONT, child, 0, (void*)(long)WSTOPSIG(status));
    }
  } else if (strcmp(mode, "plain") != 0) {
    fprintf(stderr, "attach_fixture: unknown mode %s\n", mode);
    return 2;
  }
  printf("READY %d\n", (int)getpid());
  fflush(stdout);
  tick_forever(argv[2]);
}
