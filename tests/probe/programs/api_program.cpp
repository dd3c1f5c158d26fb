// Calls every interposed function once from its own site with a distinctive size, including
// the realloc/calloc corners, then exits (the exit snapshot is checked by the driver).
#include <malloc.h>
#include <pthread.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>

#include "prog_util.h"

SITE void* site_malloc_40004() { return keep(malloc(40004)); }
SITE void* site_calloc_10007() { return keep(calloc(10007, 1)); }
SITE void* site_calloc_overflow() { return keep(calloc(SIZE_MAX / 2, 4)); }
SITE void* site_realloc_null_10009() { return keep(realloc(nullptr, 10009)); }
SITE void* site_malloc_10011() { return keep(malloc(10011)); }
SITE void* site_realloc_20011(void* p) { return keep(realloc(p, 20011)); }
SITE void* site_malloc_10013() { return keep(malloc(10013)); }
SITE void* site_realloc_zero(void* p) { return keep(realloc(p, 0)); }
SITE void* site_malloc_10017() { return keep(malloc(10017)); }
SITE void* site_realloc_huge(void* p) { return keep(realloc(p, SIZE_MAX / 2)); }
SITE void* site_reallocarray_30057() { return keep(reallocarray(nullptr, 10019, 3)); }
SITE void* site_reallocarray_overflow(void* p) { return keep(reallocarray(p, SIZE_MAX / 2, 4)); }
SITE int site_posix_memalign_40009(void** p) {
  int rc = posix_memalign(p, 64, 40009);
  keep(*p);
  return rc;
}
SITE int site_posix_memalign_bad(void** p) {
  int rc = posix_memalign(p, 3, 40011);
  keep(p);
  return rc;
}
SITE void* site_aligned_alloc_40064() { return keep(aligned_alloc(128, 40064)); }
SITE void* site_memalign_40021() { return keep(memalign(256, 40021)); }
SITE void* site_valloc_40031() { return keep(valloc(40031)); }
SITE void* site_pvalloc_40037() { return keep(pvalloc(40037)); }
SITE void* site_malloc_free_10039() { return keep(malloc(10039)); }
SITE char* site_new_10043() { return static_cast<char*>(keep(new char[10043])); }
SITE void site_throw() { throw std::runtime_error("through the probe"); }
SITE void* site_thread_10047(void*) { return keep(malloc(10047)); }

int main() {
  void* m = site_malloc_40004();
  CHECK(m);
  CHECK(malloc_usable_size(m) >= 40004);

  auto* c = static_cast<unsigned char*>(site_calloc_10007());
  CHECK(c);
  for (int i = 0; i < 10007; ++i) CHECK(c[i] == 0);

  errno = 0;
  CHECK(site_calloc_overflow() == nullptr);
  CHECK(errno == ENOMEM);

  CHECK(site_realloc_null_10009());

  void* grown = site_realloc_20011(site_malloc_10011());
  CHECK(grown);

  errno = 0;
  CHECK(site_realloc_zero(site_malloc_10013()) == nullptr);  // glibc: frees, returns NULL

  void* kept = site_malloc_10017();
  errno = 0;
  CHECK(site_realloc_huge(kept) == nullptr);
  CHECK(errno == ENOMEM);
  static_cast<char*>(kept)[10016] = 1;  // still ours

  void* ra = site_reallocarray_30057();
  CHECK(ra);
  errno = 0;
  CHECK(site_reallocarray_overflow(ra) == nullptr);
  CHECK(errno == ENOMEM);

  void* pm = nullptr;
  CHECK(site_posix_memalign_40009(&pm) == 0);
  CHECK(reinterpret_cast<uintptr_t>(pm) % 64 == 0);
  void* bad = nullptr;
  CHECK(site_posix_memalign_bad(&bad) == EINVAL);

  void* al = site_aligned_alloc_40064();
  CHECK(al && reinterpret_cast<uintptr_t>(al) % 128 == 0);
  void* me = site_memalign_40021();
  CHECK(me && reinterpret_cast<uintptr_t>(me) % 256 == 0);
  void* va = site_valloc_40031();
  CHECK(va && reinterpret_cast<uintptr_t>(va) % 4096 == 0);
  void* pv = site_pvalloc_40037();
  CHECK(pv && reinterpret_cast<uintptr_t>(pv) % 4096 == 0);

  for (int i = 0; i < 5; ++i) free(site_malloc_free_10039());
  free(nullptr);

  errno = EDOM;
  void* small = malloc(24);
  CHECK(errno == EDOM);
  free(small);
  CHECK(errno == EDOM);

  CHECK(site_new_10043());

  bool caught = false;
  try {
    site_throw();
  } catch (const std::runtime_error&) {
    caught = true;
  }
  CHECK(caught);

  pthread_t th;
  CHECK(pthread_create(&th, nullptr, site_thread_10047, nullptr) == 0);
  CHECK(pthread_join(th, nullptr) == 0);

  printf("done\n");
  return 0;
}
