// A target for the exporter tests: waits for the file argv[1] to appear, then leaks
// argv[3] blocks of argv[4] bytes at one site (leak_session_buffer), writes argv[2] and
// sleeps until killed. Polls are bounded: it exits by itself after 120 s.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void* volatile keep[100000];

__attribute__((noinline)) static void* leak_session_buffer(size_t size) {
  void* p = malloc(size);
  memset(p, 0x5a, size);
  return p;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: leak_on_cue CUE_FILE DONE_FILE BLOCKS SIZE\n");
    return 2;
  }
  const long blocks = atol(argv[3]);
  const long size = atol(argv[4]);
  if (blocks <= 0 || blocks > 100000 || size <= 0) return 2;
  for (int i = 0; i < 1200 && access(argv[1], F_OK) != 0; ++i) usleep(100000);
  for (long i = 0; i < blocks; ++i) keep[i] = leak_session_buffer((size_t)size);
  FILE* done = fopen(argv[2], "w");
  if (done) fclose(done);
  for (int i = 0; i < 1200; ++i) usleep(100000);
  return 0;
}
