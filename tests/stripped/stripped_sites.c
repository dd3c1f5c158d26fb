/* Allocation sites for the "unnamed function" tests. Built with -g, then stripped the way
 * Debian ships a daemon (.dynsym and .eh_frame kept, -rdynamic as mosquitto exports its
 * functions for plugins), so the static functions below have no name in the stripped copy:
 *
 *   retain_before (exported)  sizeless_label (exported, no size, no FDE: an assembly label)
 *   keep_three (static, 3 sites)  keep_config (static, called from two places)
 *   retain_store (exported)  retain_after (exported)
 *
 * in that order in .text (-fno-toplevel-reorder). A nearest-symbol lookup would name
 * keep_three's and keep_config's sites `sizeless_label`.
 * Usage: stripped_sites N   leaks N objects at every site, then exits. Sizes are distinct so
 * tests can tell the sites apart by size too. */
#include <stdlib.h>
#include <string.h>

static void* volatile g_kept[1 << 14];
static int g_count;

static inline __attribute__((always_inline)) void keep(void* p) {
  if (p != NULL && g_count < (int)(sizeof g_kept / sizeof g_kept[0])) g_kept[g_count++] = p;
}

__attribute__((noinline)) void retain_before(int n) {
  for (int i = 0; i < n; ++i) keep(malloc(1111));
}

/* What hand-written assembly leaves in .dynsym: a global label with no size. */
__asm__(".text\n.globl sizeless_label\n.type sizeless_label, @function\nsizeless_label:\n  ret\n");

__attribute__((noinline)) static void keep_three(int n) {
  for (int i = 0; i < n; ++i) {
    keep(malloc(2221));
    keep(malloc(2222));
    keep(calloc(1, 2223));
  }
}

__attribute__((noinline)) static void keep_config(int n) {
  for (int i = 0; i < n; ++i) keep(strdup("a configuration string that is never freed"));
}

__attribute__((noinline)) void retain_store(int n) {
  keep_three(n);
  keep_config(n);
  for (int i = 0; i < n; ++i) keep(malloc(3333));
}

__attribute__((noinline)) void retain_after(int n) {
  keep_config(n);
  for (int i = 0; i < n; ++i) keep(malloc(4444));
}

int main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 1;
  retain_before(n);
  retain_store(n);
  retain_after(n);
  return 0;
}
