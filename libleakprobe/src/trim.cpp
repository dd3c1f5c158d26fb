#include "trim.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "preload_order.h"
#include "real_alloc.h"

namespace leakprobe {
namespace {

// Resident bytes from /proc/self/statm (its second field, in pages); 0 if unreadable.
unsigned long long resident_now() {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long long size = 0, resident = 0;
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return resident * static_cast<unsigned long long>(sysconf(_SC_PAGESIZE));
}

}  // namespace

bool trim_request(char* reply, size_t size) {
  Dl_info where{};
  const char* other = foreign_malloc();
  if (!other && dladdr(reinterpret_cast<void*>(real_alloc().malloc), &where) && where.dli_fname &&
      !strstr(where.dli_fname, "/libc.so"))
    other = where.dli_fname;  // the probe forwards to another allocator
  if (other) {
    // glibc's malloc_trim would only tidy arenas nobody allocates from.
    snprintf(reply, size, "the program's malloc is %s, not glibc's: malloc_trim cannot help",
             other);
    return false;
  }
  const unsigned long long before = resident_now();
  // Takes each arena's lock in turn while it returns that arena's free pages (madvise): host
  // threads allocating from that arena wait that long, as they would for any free().
  const int released = malloc_trim(0);
  const unsigned long long after = resident_now();
  snprintf(reply, size, "rss-before=%llu rss-after=%llu released=%d", before, after, released);
  return true;
}

}  // namespace leakprobe
