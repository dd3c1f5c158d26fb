#include "memory_limit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

namespace leakprobe {
namespace {

// v1 writes "no limit" as the page counter's maximum rounded to pages (9223372036854771712 on
// 4 KiB pages); anything this large is no limit at all.
constexpr uint64_t kUnlimited = uint64_t{1} << 62;

// Reads a small file whole into buf (NUL-terminated); false if it cannot be read.
bool read_small(const char* path, char* buf, size_t size) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t used = 0;
  while (used + 1 < size) {
    const ssize_t n = read(fd, buf + used, size - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<size_t>(n);
  }
  close(fd);
  buf[used] = '\0';
  return used > 0;
}

// The limit in one file: a decimal number of bytes, or "max" (v2's no limit). 0: none.
uint64_t read_limit(const char* path) {
  char buf[64];
  if (!read_small(path, buf, sizeof(buf))) return 0;
  if (buf[0] < '0' || buf[0] > '9') return 0;  // "max", or not a number
  uint64_t v = 0;
  for (const char* p = buf; *p >= '0' && *p <= '9'; ++p) {
    const uint64_t digit = static_cast<uint64_t>(*p - '0');
    if (v > (UINT64_MAX - digit) / 10) return 0;
    v = v * 10 + digit;
  }
  return v >= kUnlimited ? 0 : v;
}

uint64_t tighter(uint64_t a, uint64_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return a < b ? a : b;
}

// The tightest `file` limit from the cgroup at `cgroup` (a path like "/a/b", from
// /proc/self/cgroup) up to the hierarchy's root under `mount`: a parent's limit binds its
// children too. A path that does not exist under the mount (a container that sees the host's
// path names but has its own cgroup mounted) just contributes nothing until an ancestor does.
uint64_t walk_up(const char* root, const char* mount, const char* cgroup, size_t cgroup_len,
                 const char* file) {
  char dir[PATH_MAX];
  const int n =
      snprintf(dir, sizeof(dir), "%s/%s%.*s", root, mount, static_cast<int>(cgroup_len), cgroup);
  if (n < 0 || static_cast<size_t>(n) >= sizeof(dir)) return 0;
  const size_t base = strlen(root) + 1 + strlen(mount);  // dir[base..] is the cgroup path
  uint64_t limit = 0;
  for (;;) {
    size_t len = strlen(dir);
    while (len > base && dir[len - 1] == '/') dir[--len] = '\0';
    char path[PATH_MAX];
    const int m = snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (m > 0 && static_cast<size_t>(m) < sizeof(path)) limit = tighter(limit, read_limit(path));
    char* slash = strrchr(dir + base, '/');
    if (!slash) break;  // the hierarchy's root
    *slash = '\0';
  }
  return limit;
}

// Does the comma-separated controller list [list, list + len) name "memory"?
bool names_memory(const char* list, size_t len) {
  const char* end = list + len;
  for (const char* p = list; p < end;) {
    const char* comma = static_cast<const char*>(memchr(p, ',', static_cast<size_t>(end - p)));
    const char* stop = comma ? comma : end;
    if (stop - p == 6 && memcmp(p, "memory", 6) == 0) return true;
    p = stop + 1;
  }
  return false;
}

}  // namespace

uint64_t cgroup_memory_limit(const char* root) {
  if (!root || !*root) root = "/";
  // "/" + "/proc" would do, but a tidy path is easier to read in strace.
  const char* r = strcmp(root, "/") == 0 ? "" : root;
  char path[PATH_MAX];
  if (snprintf(path, sizeof(path), "%s/proc/self/cgroup", r) >= static_cast<int>(sizeof(path)))
    return 0;
  char lines[8192];
  if (!read_small(path, lines, sizeof(lines))) return 0;
  uint64_t limit = 0;
  // Lines "hierarchy-id:controllers:path"; v2's is "0::path".
  for (char* line = lines; *line;) {
    char* nl = strchr(line, '\n');
    const size_t len = nl ? static_cast<size_t>(nl - line) : strlen(line);
    const char* c1 = static_cast<const char*>(memchr(line, ':', len));
    const char* c2 =
        c1 ? static_cast<const char*>(memchr(c1 + 1, ':', len - (c1 + 1 - line))) : nullptr;
    if (c2 && c2[1] == '/') {
      const char* cgroup = c2 + 1;
      const size_t cgroup_len = len - static_cast<size_t>(cgroup - line);
      const size_t controllers = static_cast<size_t>(c2 - c1 - 1);
      if (controllers == 0 && c1 - line == 1 && line[0] == '0') {
        limit = tighter(limit, walk_up(r, "sys/fs/cgroup", cgroup, cgroup_len, "memory.max"));
      } else if (names_memory(c1 + 1, controllers)) {
        limit = tighter(
            limit, walk_up(r, "sys/fs/cgroup/memory", cgroup, cgroup_len, "memory.limit_in_bytes"));
      }
    }
    if (!nl) break;
    line = nl + 1;
  }
  return limit;
}

MemoryLimit process_memory_limit(const char* root, uint64_t physical) {
  const uint64_t cgroup = cgroup_memory_limit(root);
  MemoryLimit m;
  m.bytes = tighter(physical, cgroup);
  m.cgroup = cgroup != 0 && m.bytes == cgroup && cgroup != physical;
  return m;
}

}  // namespace leakprobe
