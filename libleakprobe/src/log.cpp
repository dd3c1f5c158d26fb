#include "log.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace leakprobe {

void log_line(const char* a, const char* b, const char* c, const char* d, const char* e) {
  const int saved_errno = errno;
  char line[512];
  size_t n = 0;
  auto put = [&](const char* s) {
    if (!s) return;
    size_t len = strlen(s);
    if (len > sizeof(line) - 1 - n) len = sizeof(line) - 1 - n;
    memcpy(line + n, s, len);
    n += len;
  };
  put("leakprobe: ");
  put(a);
  put(b);
  put(c);
  put(d);
  put(e);
  line[n++] = '\n';
  // A short write to stderr is not worth retrying from inside the host.
  ssize_t ignored = write(STDERR_FILENO, line, n);
  (void)ignored;
  errno = saved_errno;
}

void log_once(std::atomic<bool>& flag, const char* a, const char* b, const char* c, const char* d,
              const char* e) {
  if (flag.exchange(true, std::memory_order_relaxed)) return;
  log_line(a, b, c, d, e);
}

const char* fmt_u64(char* buf, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (int i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return buf;
}

const char* fmt_i64(char* buf, int64_t v) {
  if (v >= 0) return fmt_u64(buf, static_cast<uint64_t>(v));
  buf[0] = '-';
  fmt_u64(buf + 1, static_cast<uint64_t>(-(v + 1)) + 1);
  return buf;
}

}  // namespace leakprobe
