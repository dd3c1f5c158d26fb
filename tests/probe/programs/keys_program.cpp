// A host that uses up pthread keys (PTHREAD_KEYS_MAX, 1024 in glibc), then runs threads that
// allocate, free, leak one block each and exit. The probe must leave the host all keys but
// one, and keep recording with none left for itself.
//
//   keys_program preload          keys first (the preloaded probe has taken its own by now)
//   keys_program attach PROBE DIR keys first, then dlopen the probe and leakprobe_attach it
//                                 (what `leakprobe attach` does), snapshots into DIR
//   keys_program hold             keys first, then wait for a line on stdin (`leakprobe
//                                 attach PID` meanwhile) before the threads
//
// Prints "keys N" (the keys the host got before EAGAIN), then "threads N" when all are done.
#include <dlfcn.h>
#include <pthread.h>

#include <cerrno>
#include <string>

#include "prog_util.h"

constexpr int kBatches = 75;  // 300 threads: more than the probe's 256 walk cache slots
constexpr int kPerBatch = 4;
constexpr int kChurn = 200;

SITE void* keys_leak_site(size_t n) { return keep(malloc(n)); }
SITE void* keys_churn_site(size_t n) { return keep(malloc(n)); }

void* worker(void* arg) {
  const auto id = reinterpret_cast<uintptr_t>(arg);
  for (int i = 0; i < kChurn; ++i) free(keys_churn_site(16 + (i * 13 + id) % 400));
  keys_leak_site(333);
  return nullptr;
}

int use_up_keys() {
  int n = 0;
  for (;;) {
    pthread_key_t k;
    const int rc = pthread_key_create(&k, nullptr);
    if (rc == EAGAIN) return n;
    CHECK(rc == 0);
    ++n;
    CHECK(n <= 100000);
  }
}

void run_threads() {
  int done = 0;
  for (int b = 0; b < kBatches; ++b) {
    pthread_t th[kPerBatch];
    for (int i = 0; i < kPerBatch; ++i)
      CHECK(pthread_create(&th[i], nullptr, worker,
                           reinterpret_cast<void*>(static_cast<uintptr_t>(done + i))) == 0);
    for (pthread_t t : th) CHECK(pthread_join(t, nullptr) == 0);
    done += kPerBatch;
  }
  printf("threads %d\n", done);
}

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "preload") {
    printf("keys %d\n", use_up_keys());
    run_threads();
    return 0;
  }
  if (mode == "hold") {
    printf("keys %d\n", use_up_keys());
    char line[16];
    CHECK(fgets(line, sizeof(line), stdin) != nullptr);
    run_threads();
    return 0;
  }
  if (mode == "attach" && argc == 4) {
    printf("keys %d\n", use_up_keys());
    void* probe = dlopen(argv[2], RTLD_NOW);
    CHECK(probe != nullptr);
    auto attach = reinterpret_cast<int (*)(const char*)>(dlsym(probe, "leakprobe_attach"));
    CHECK(attach != nullptr);
    const std::string config = std::string("LEAKPROBE_OUTPUT_DIR=") + argv[3] +
                               "\nLEAKPROBE_QUIET=1\nLEAKPROBE_SAMPLE_BYTES=0\n";
    const int rc = attach(config.c_str());
    printf("attach %d\n", rc);
    run_threads();
    return 0;
  }
  fprintf(stderr, "usage: keys_program preload | hold | attach PROBE DIR\n");
  return 2;
}
