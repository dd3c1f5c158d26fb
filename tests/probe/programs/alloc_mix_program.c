// Every allocation function the probe exports, mixed the way real programs mix them: a block
// from one function is resized, measured and freed through the others (coreutils use
// reallocarray, Python memalign and malloc_usable_size). Under another allocator each of
// these must reach that allocator's heap; one call sent to glibc's instead crashes here.
// Prints what it checked; the output must equal the allocator's own run.
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_bad;
#define EXPECT(cond)                                              \
  do {                                                            \
    if (!(cond)) {                                                \
      fprintf(stderr, "line %d: expected %s\n", __LINE__, #cond); \
      g_bad++;                                                    \
    }                                                             \
  } while (0)

static int aligned_to(const void* p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static int all_are(const char* p, size_t n, char c) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != c) return 0;
  return 1;
}

int main(void) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  unsigned long rounds = 0;
  for (size_t r = 0; r < 300; ++r) {
    size_t n = 16 + r * 37;

    char* a = malloc(n);
    memset(a, 'a', n);
    a = reallocarray(a, 3, n);  // not exported by jemalloc 5.3 nor tcmalloc 2.10
    EXPECT(a && all_are(a, n, 'a'));
    EXPECT(malloc_usable_size(a) >= 3 * n);
    free(a);

    char* b = aligned_alloc(64, 64 * (r + 1));
    EXPECT(b && aligned_to(b, 64));
    memset(b, 'b', 64 * (r + 1));
    b = realloc(b, 64 * (r + 2));
    EXPECT(b && all_are(b, 64 * (r + 1), 'b'));
    free(b);

    char* c = memalign(256, n);
    EXPECT(c && aligned_to(c, 256) && malloc_usable_size(c) >= n);
    memset(c, 'c', n);
    c = reallocarray(c, 2, n);
    EXPECT(c && all_are(c, n, 'c'));
    free(c);

    char* d = valloc(n);
    EXPECT(d && aligned_to(d, page));
    memset(d, 'd', n);
    d = realloc(d, n / 2 + 1);
    EXPECT(d && all_are(d, n / 2 + 1, 'd'));
    free(d);

    char* e = pvalloc(n);  // not exported by jemalloc 5.3
    EXPECT(e && aligned_to(e, page) && malloc_usable_size(e) >= n);
    memset(e, 'e', n);
    free(e);

    void* f = NULL;
    EXPECT(posix_memalign(&f, 32, n) == 0 && aligned_to(f, 32));
    f = reallocarray(f, 4, n);
    EXPECT(f != NULL);
    free(f);

    char* g = calloc(n, 3);
    EXPECT(g && all_are(g, 3 * n, 0));
    g = reallocarray(g, n, 4);
    EXPECT(g && all_are(g, 3 * n, 0));
    free(g);
    rounds++;
  }
  errno = 0;
  volatile size_t half = SIZE_MAX / 2;  // volatile: the compiler would refuse the overflow
  void* huge = reallocarray(NULL, half, 3);
  EXPECT(huge == NULL && errno == ENOMEM);
  printf("rounds %lu, failed checks %d\n", rounds, g_bad);
  return g_bad ? 1 : 0;
}
