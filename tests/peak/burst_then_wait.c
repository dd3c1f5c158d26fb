// A service whose memory bursts: after 512 KiB of start-up state (below the 1 MiB peak floor) it
// waits for CUE_FILE, then allocates BURST_MIB blocks of 1 MiB (session buffers, touched so they
// are resident) at one site, writes DONE_FILE and waits to be killed (at most 120 s). The peak test
// SIGKILLs it at its peak, as the OOM killer would, and reads the peak snapshot left on disk.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void* volatile keep[4096];

__attribute__((noinline)) static void* startup_state(size_t size) {
  void* p = malloc(size);
  memset(p, 1, size);
  return p;
}

__attribute__((noinline)) static void* burst_session_buffer(size_t size) {
  void* p = malloc(size);
  memset(p, 2, size);
  return p;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: burst_then_wait BURST_MIB CUE_FILE DONE_FILE\n");
    return 2;
  }
  const long mib = atol(argv[1]);
  if (mib <= 0 || mib > 4000) return 2;
  for (int i = 0; i < 8; ++i) keep[i] = startup_state(64 * 1024);
  for (int i = 0; i < 1200 && access(argv[2], F_OK) != 0; ++i) usleep(100000);
  for (long i = 0; i < mib; ++i) keep[8 + i] = burst_session_buffer(1 << 20);
  FILE* done = fopen(argv[3], "w");
  if (done) fclose(done);
  for (int i = 0; i < 1200; ++i) usleep(100000);
  return 0;
}
