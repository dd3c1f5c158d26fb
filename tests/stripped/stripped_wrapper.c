/* A program that routes its allocations through its own static wrapper, stripped the way
 * Debian ships a binary: `xalloc` has no name in the stripped copy, and sits directly above
 * malloc for four exported API functions. `keep_pair` (static, two callers) is the program's
 * own code and must stay a site.
 * Usage: stripped_wrapper N   leaks N objects at every site, then exits. */
#include <stdlib.h>

static void* volatile g_kept[1 << 14];
static int g_count;

static inline __attribute__((always_inline)) void keep(void* p) {
  if (p != NULL && g_count < (int)(sizeof g_kept / sizeof g_kept[0])) g_kept[g_count++] = p;
}

/* Counts its blocks, as allocation wrappers do: enough work that it is never inlined. */
static size_t g_wrapped;
__attribute__((noinline)) static void* xalloc(size_t size) {
  void* p = malloc(size);
  if (p == NULL) abort();
  g_wrapped += size;
  return p;
}

__attribute__((noinline)) void api_connect(int n) {
  for (int i = 0; i < n; ++i) keep(xalloc(1001));
}
__attribute__((noinline)) void api_publish(int n) {
  for (int i = 0; i < n; ++i) keep(xalloc(2002));
}
__attribute__((noinline)) void api_subscribe(int n) {
  for (int i = 0; i < n; ++i) keep(xalloc(3003));
}
__attribute__((noinline)) void api_disconnect(int n) {
  for (int i = 0; i < n; ++i) keep(xalloc(4004));
}

__attribute__((noinline)) static void keep_pair(int n) {
  for (int i = 0; i < n; ++i) keep(malloc(505));
}
__attribute__((noinline)) void load_first(int n) { keep_pair(n); }
__attribute__((noinline)) void load_second(int n) { keep_pair(n); }

int main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 1;
  api_connect(n);
  api_publish(n);
  api_subscribe(n);
  api_disconnect(n);
  load_first(n);
  load_second(n);
  return g_wrapped == 0 && n > 0;
}
