// A host that uses the probe's own default signal (SIGRTMIN+7) for itself, the way a program
// that never heard of leakprobe might. Prints what it observes; the run with the probe must
// print the same as the run without it:
//   - the disposition it finds before installing anything (SIG_DFL after exec);
//   - that every one of its signals reached its handler, on the one thread that has the
//     signal unblocked (a probe thread must not take deliveries meant for the host).
// Usage: sighost_program sigaction|signal
//        sighost_program query   prints the disposition it finds and exits
//        sighost_program stderr-file  closes stderr, reuses descriptor 2 for data.txt, then
//                                takes the signal (the probe has something to say) and
//                                prints data.txt, which must hold only the host's text
//        sighost_program sigwait blocks the signal and takes 20 of its own with sigtimedwait
//                                (no handler: the probe's stays installed)
//        sighost_program reset   sets SIG_DFL (as git's children and daemons do), prints
//                                "ready", then waits for end of stdin
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

std::atomic<int> g_handled{0};
std::atomic<int> g_on_receiver{0};
std::atomic<pid_t> g_receiver_tid{0};
std::atomic<bool> g_done{false};

void on_sig(int) {
  g_handled.fetch_add(1);
  if (gettid() == g_receiver_tid.load()) g_on_receiver.fetch_add(1);
}

void* receiver(void*) {
  g_receiver_tid.store(gettid());
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGRTMIN + 7);
  pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
  while (!g_done.load()) {
    timespec ts{0, 1000000};
    nanosleep(&ts, nullptr);
  }
  return nullptr;
}

const char* describe(const struct sigaction& sa) {
  if (sa.sa_handler == SIG_DFL) return "default";
  if (sa.sa_handler == SIG_IGN) return "ignored";
  return "a handler";
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc == 2 ? argv[1] : "";
  if (strcmp(mode, "sigaction") != 0 && strcmp(mode, "signal") != 0 && strcmp(mode, "query") != 0 &&
      strcmp(mode, "reset") != 0 && strcmp(mode, "stderr-file") != 0 &&
      strcmp(mode, "sigwait") != 0) {
    fprintf(stderr, "usage: %s sigaction|signal|query|reset|stderr-file|sigwait\n", argv[0]);
    return 2;
  }
  const int sig = SIGRTMIN + 7;
  struct sigaction before {};
  sigaction(sig, nullptr, &before);
  printf("before: %s\n", describe(before));
  if (strcmp(mode, "query") == 0) return 0;
  if (strcmp(mode, "sigwait") == 0) {
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    pthread_sigmask(SIG_BLOCK, &only, nullptr);
    int got = 0;
    for (int i = 0; i < 20; ++i) {
      kill(getpid(), sig);
      timespec ts{2, 0};
      if (sigtimedwait(&only, nullptr, &ts) == sig) ++got;
    }
    printf("waited for %d of 20\n", got);
    return got == 20 ? 0 : 1;
  }
  if (strcmp(mode, "stderr-file") == 0) {
    close(2);
    int fd = open("data.txt", O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd != 2) return 4;
    signal(sig, on_sig);
    if (write(fd, "host data\n", 10) != 10) return 5;
    close(fd);
    FILE* f = fopen("data.txt", "r");
    if (!f) return 6;
    int c;
    while ((c = fgetc(f)) != EOF) putchar(c);
    fclose(f);
    return 0;
  }
  if (strcmp(mode, "reset") == 0) {
    struct sigaction dfl {
    }, old{};
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, &old);
    printf("old: %s\nready\n", describe(old));
    fflush(stdout);
    char buf[64];
    while (fread(buf, 1, sizeof(buf), stdin) > 0) {
    }
    return 0;
  }

  // Only the receiver thread takes the signal.
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  pthread_sigmask(SIG_BLOCK, &s, nullptr);

  if (strcmp(argv[1], "signal") == 0) {
    if (signal(sig, on_sig) == SIG_ERR) return 3;
  } else {
    struct sigaction sa {};
    sa.sa_handler = on_sig;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(sig, &sa, nullptr) != 0) return 3;
  }
  struct sigaction now {};
  sigaction(sig, nullptr, &now);
  printf("installed: %s\n", now.sa_handler == on_sig ? "ours" : "something else");

  pthread_t th;
  pthread_create(&th, nullptr, receiver, nullptr);
  while (g_receiver_tid.load() == 0) usleep(1000);
  usleep(20000);  // let the receiver unblock the signal

  const int kSignals = 50;
  for (int i = 0; i < kSignals; ++i) {
    int want = i + 1;
    kill(getpid(), sig);
    // Bounded wait for this delivery (real-time signals queue; none may be lost).
    for (int spin = 0; spin < 2000 && g_handled.load() < want; ++spin) usleep(1000);
  }
  g_done.store(true);
  pthread_join(th, nullptr);
  printf("handled %d of %d, on the host's receiver thread %d\n", g_handled.load(), kSignals,
         g_on_receiver.load());
  return g_handled.load() == kSignals && g_on_receiver.load() == kSignals ? 0 : 1;
}
