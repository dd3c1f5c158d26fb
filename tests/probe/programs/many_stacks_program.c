// Allocates 3 blocks of 1001 bytes from each of 2048 distinct call stacks (11 levels, each a
// call through one of two functions), then frees every block and exits 0. Under
// LEAKPROBE_MAX_STACKS=1024 the probe's stack table fills up half-way: its exit snapshot must
// still show nothing of these blocks live, and say that it is incomplete. argv[1], if given:
// seconds to wait before freeing (for an interval snapshot in between).
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LEVELS 11
#define STACKS (1 << LEVELS)
#define PER_STACK 3

static void* g_blocks[STACKS * PER_STACK];
static int g_used;

static void level(unsigned bits, int depth);

__attribute__((noinline)) static void through_a(unsigned bits, int depth) {
  level(bits, depth);
  __asm__ volatile("" ::: "memory");  // no tail call: each path keeps its own frames
}

__attribute__((noinline)) static void through_b(unsigned bits, int depth) {
  level(bits, depth);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void level(unsigned bits, int depth) {
  if (depth == LEVELS) {
    for (int i = 0; i < PER_STACK; ++i) g_blocks[g_used++] = malloc(1001);
    return;
  }
  if (bits & (1u << depth))
    through_a(bits, depth + 1);
  else
    through_b(bits, depth + 1);
  __asm__ volatile("" ::: "memory");
}

int main(int argc, char** argv) {
  for (unsigned s = 0; s < STACKS; ++s) level(s, 0);
  if (argc > 1) sleep((unsigned)atoi(argv[1]));
  int missing = 0;
  for (int i = 0; i < g_used; ++i) missing += g_blocks[i] == NULL;
  for (int i = 0; i < g_used; ++i) free(g_blocks[i]);
  printf("%d blocks from %d stacks, all freed\n", g_used - missing, STACKS);
  return missing ? 1 : 0;
}
