// A program with two heap phases and a snapshot after each, for comparing heapdiff with
// `go tool pprof` on the same files.
//
// Phase A leaves 5000 x 24 B (small_blocks) + 5 x 4000 B (big_blocks) live; phase B adds
// 20 x 4000 B more. So in B alone small_blocks is on top (120000 B vs 100000 B), while in B - A
// big_blocks is (+80000 B) and small_blocks did not change: the two "top function" answers
// differ, which is what makes the comparison meaningful. churn() allocates and frees, so
// alloc counters move but live ones do not.
//
// Snapshots: under gperftools (LD_PRELOAD=libtcmalloc.so.4 HEAPPROFILE=prefix), HeapProfilerDump
// is found with dlsym and called. Under libleakprobe, the program sends itself the probe's
// default snapshot signal (SIGRTMIN+7) and waits until the new file appears in
// $LEAKPROBE_OUTPUT_DIR (bounded: 10 s).
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static void* volatile sink[6000];
static int sink_used;

__attribute__((noinline)) void small_blocks(int n) {
  for (int i = 0; i < n; ++i) sink[sink_used++] = malloc(24);
}

__attribute__((noinline)) void big_blocks(int n) {
  for (int i = 0; i < n; ++i) sink[sink_used++] = malloc(4000);
}

__attribute__((noinline)) void pairs(int n) {
  for (int i = 0; i < n; ++i) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) abort();
  }
}

__attribute__((noinline)) void churn(int n) {
  for (int i = 0; i < n; ++i) {
    void* volatile p = malloc(512);
    free(p);
  }
}

static int count_snapshots(const char* dir) {
  DIR* d = opendir(dir);
  if (d == NULL) return -1;
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (e->d_name[0] != '.' && len > 5 && strcmp(e->d_name + len - 5, ".heap") == 0) ++n;
  }
  closedir(d);
  return n;
}

static int snapshot(const char* reason) {
  typedef void (*DumpFn)(const char*);
  DumpFn dump = (DumpFn)dlsym(RTLD_DEFAULT, "HeapProfilerDump");
  if (dump != NULL) {
    dump(reason);
    return 0;
  }
  const char* dir = getenv("LEAKPROBE_OUTPUT_DIR");
  if (dir == NULL) {
    fprintf(stderr, "heap_phases: neither gperftools loaded nor LEAKPROBE_OUTPUT_DIR set\n");
    return 1;
  }
  int before = count_snapshots(dir);
  raise(SIGRTMIN + 7);
  for (int i = 0; i < 1000; ++i) {  // 1000 x 10 ms
    if (count_snapshots(dir) > before) return 0;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "heap_phases: no snapshot appeared in %s\n", dir);
  return 1;
}

int main(void) {
  small_blocks(5000);
  big_blocks(5);
  churn(100);
  if (snapshot("phase-a") != 0) return 1;
  big_blocks(20);
  pairs(3);
  churn(300);
  if (snapshot("phase-b") != 0) return 1;
  return 0;
}
