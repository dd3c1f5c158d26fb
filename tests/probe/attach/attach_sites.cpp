// Allocation sites for the attach tests, compiled like the preloaded test programs (no
// inlining, no sibling calls, no builtin malloc): each call stays a real call in its own
// frame, so a snapshot's leaf frame lies inside the named function.
#include "attach_sites.h"

#include <cstdlib>

void* volatile g_attach_sink;

ATTACH_SITE void* attach_leak_site(size_t n) {
  void* p = malloc(n);
  g_attach_sink = p;
  return p;
}

ATTACH_SITE void* attach_realloc_site(void* p, size_t n) {
  void* q = realloc(p, n);
  g_attach_sink = q;
  return q;
}

ATTACH_SITE void* attach_churn_site(size_t n) {
  void* p = malloc(n);
  g_attach_sink = p;
  return p;
}

ATTACH_SITE void attach_free(void* p) { free(p); }
